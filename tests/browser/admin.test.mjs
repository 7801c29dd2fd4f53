// The administration console in real Chromium: an administrator signs in with a security key
// and handles a lost key, a departure, and each page is checked by axe-core. Role checks: a
// password-only session never reaches the console, an auditor sees no form, a helpdesk agent
// does not see the applications.
//
// ADMIN_SCREENSHOTS=DIR writes a screenshot of each page into DIR (the pictures of
// docs/admin.md are made that way).

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  assertAccessible,
  authorizationRequest,
  decideOnPhone,
  ecpsPhone,
  enrolKey,
  exchangeCode,
  newContext,
  plugKey,
  rpConfig,
  randomIdNat,
  setup,
  signIn,
  startPscSandbox,
  submitLogin,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** Writes a screenshot of the page when ADMIN_SCREENSHOTS names a folder. */
async function picture(page, name) {
  const dir = process.env.ADMIN_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
}

/** The claims of a JWT, unverified (the logout token's signature is checked by the API tests). */
function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

async function until(what, check, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('administration console in Chromium', { timeout: 300_000 }, () => {
  let env;

  before(async () => {
    env = await setup({ env: { TROUSSEAU__WEBAUTHN__ALLOW_UNATTESTED: 'true' } });
  });
  after(async () => {
    await env?.teardown();
  });

  /**
   * A person holding `role`, with a security key enrolled in a fresh browser, signed in to the
   * console with it. The context bypasses CSP only so that axe-core can be injected.
   */
  async function consoleAs(track, role, names) {
    const { server } = env;
    const user = await server.createUser(names);
    await server.cli(['user', 'role', 'add', user.username, role]);
    const page = track(await (await newContext(env.browser, { bypassCSP: true })).newPage());
    await plugKey(page);
    await enrolKey(page, server, user, 'Clé de la console');
    await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
    await page.goto(`${server.issuer}/admin`);
    const signIn = page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' });
    const stepUp = page.getByRole('button', { name: 'Utiliser ma clé de sécurité' });
    await signIn.or(stepUp).first().click({ timeout: 15_000 });
    await page.getByRole('heading', { name: 'Tableau de bord', level: 1 }).waitFor({ timeout: 15_000 });
    return { user, page };
  }

  /** Opens a person's page from the search box, as an administrator does. */
  async function openPerson(page, person) {
    await page.getByRole('link', { name: 'Identités' }).click();
    await page.getByLabel('Rechercher une personne').fill(person.familyName.toLowerCase());
    await page.getByRole('button', { name: 'Rechercher' }).click();
    const name = `${person.familyName.toUpperCase()} ${person.givenName}`;
    await page.getByRole('link', { name }).click();
    await page
      .getByRole('heading', { name: `${person.givenName} ${person.familyName}`, level: 1 })
      .waitFor();
  }

  test('lost key: the helpdesk revokes it and issues an enrolment code after the identity check', { timeout: 120_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server } = env;
      const { page } = await consoleAs(track, 'helpdesk', { givenName: 'Hugo', familyName: 'Guichet' });
      await assertAccessible(page, 'dashboard');
      await picture(page, 'admin-dashboard');
      assert.equal(await page.getByRole('link', { name: 'Applications' }).count(), 0, 'no clients for the helpdesk');

      // A nurse enrolled a key, then lost it.
      const nurse = await server.createUser({ givenName: 'Inès', familyName: 'Bernard' });
      const nursePage = track(await (await newContext(env.browser)).newPage());
      await plugKey(nursePage);
      await enrolKey(nursePage, server, nurse, 'Clé bleue');
      await nursePage.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

      await openPerson(page, nurse);
      await assertAccessible(page, "a person's page");
      await picture(page, 'admin-person');
      await page.getByRole('button', { name: 'Révoquer la clé Clé bleue' }).click();
      await page.getByRole('status').filter({ hasText: 'Action effectuée.' }).waitFor();
      await page.getByRole('cell', { name: 'révoquée' }).waitFor();

      // Her lost key no longer opens anything.
      await nursePage.goto(`${server.issuer}/keys`);
      await nursePage.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
      await nursePage.getByRole('alert').filter({ hasText: 'retirée' }).waitFor({ timeout: 15_000 });

      // The helpdesk checks her identity card and gives her a new code, shown once.
      await page.getByLabel("Vérifié par (nom de l'agent)").fill('Hugo Guichet');
      await page.getByLabel('Pièce présentée').selectOption('id_card');
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/enrolment-code')),
        page.getByRole('button', { name: "Délivrer un code d'enrôlement" }).click(),
      ]);
      assert.equal(answer.headers()['cache-control'], 'no-store');
      const code = (await page.locator('#code').innerText()).trim();
      assert.match(code, /\S{6,}/);
      await assertAccessible(page, 'enrolment code page');
      await picture(page, 'admin-enrolment-code');

      // With it, she enrols her new key herself.
      await nursePage.goto(`${server.issuer}/keys/enrol`);
      await nursePage.getByLabel('Identifiant').fill(nurse.username);
      await nursePage.getByLabel("Code d'enrôlement").fill(code);
      await nursePage.getByLabel('Nom de la clé').fill('Clé verte');
      await nursePage.getByRole('button', { name: 'Enregistrer ma clé' }).click();
      await nursePage.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

      // The trail says who checked what.
      await page.goto(`${server.issuer}/admin/identities/${nurse.id}`);
      await page.getByRole('cell', { name: 'identity_checked' }).first().waitFor();
      await page.getByRole('cell', { name: 'security_key_revoked' }).first().waitFor();
    })(t),
  );

  test('departure: suspending a physician ends her sessions and the DPI gets its back-channel logout', { timeout: 120_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server, rp } = env;
      const dpi = await server.createClient({
        name: 'DPI',
        redirectUri: rp.redirectUri,
        firstParty: true,
        backchannelLogoutUri: `${rp.origin}/backchannel`,
      });
      const config = await rpConfig(env.issuer, dpi.client_id, dpi.client_secret);
      const doctor = await server.createUser({ givenName: 'Claire', familyName: 'Morel' });
      const doctorPage = track(await (await newContext(env.browser)).newPage());
      const request = await authorizationRequest(config, rp.redirectUri);
      await doctorPage.goto(request.url.href);
      await submitLogin(doctorPage, doctor.username, doctor.password);
      const tokens = await exchangeCode(config, await waitForRp(doctorPage, rp), request);
      const sid = tokens.claims().sid;
      assert.ok(sid, 'the ID token carries the session id');

      const { page } = await consoleAs(track, 'admin', { givenName: 'Alice', familyName: 'Admin' });
      await openPerson(page, doctor);
      assert.equal(await page.getByText('Aucune session ouverte.').count(), 0, 'her session is listed');
      await page.locator('#suspend-reason').fill('Départ le 4 décembre');
      await page.getByRole('button', { name: 'Suspendre le compte' }).click();
      await page.getByRole('status').filter({ hasText: 'Action effectuée.' }).waitFor();
      assert.match(await page.locator('#status').innerText(), /suspended/);
      await page.getByText('Aucune session ouverte.').waitFor();

      const post = await until('the back-channel logout token', () =>
        rp.posts('/backchannel').find((p) => p.form.logout_token && claimsOf(p.form.logout_token).sid === sid),
      );
      const claims = claimsOf(post.form.logout_token);
      assert.equal(claims.sub, doctor.id);
      assert.ok(claims.events?.[BACKCHANNEL_EVENT], 'a back-channel logout event');

      // Her browser is signed out, and her password no longer opens a session.
      await doctorPage.goto(request.url.href.replace(/&prompt=[^&]*/, ''));
      await submitLogin(doctorPage, doctor.username, doctor.password);
      await doctorPage.getByRole('alert').waitFor();
      assert.ok(!rp.isAt(new URL(doctorPage.url()), '/cb'), 'no code for a suspended account');
    })(t),
  );

  test('a new application: registered in the console, its secret shown once, then usable; the helpdesk may not see it', { timeout: 120_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server, rp } = env;
      const { page } = await consoleAs(track, 'admin', { givenName: 'Bruno', familyName: 'Applis' });
      await page.getByRole('link', { name: 'Applications' }).click();
      await page.getByRole('heading', { name: 'Applications', level: 1 }).or(page.locator('h1')).first().waitFor();
      await assertAccessible(page, 'clients list');
      await page.getByRole('link', { name: 'Déclarer une application' }).click();
      await assertAccessible(page, 'new client form');

      // A redirect URI with a fragment is refused with a message, and nothing is stored.
      const id = `dpi-${Date.now()}`;
      await page.getByLabel('Identifiant client').fill(id);
      await page.getByLabel('Nom présenté aux utilisateurs').fill('DPI des urgences');
      await page.getByLabel('Adresses de retour (redirect URI)').fill(`${rp.redirectUri}#frag`);
      await page.getByRole('button', { name: "Déclarer l'application" }).click();
      await page.getByRole('alert').first().waitFor();
      await assertAccessible(page, 'new client form with refusals');
      await page.getByLabel('Adresses de retour (redirect URI)').fill(rp.redirectUri);
      await page.getByLabel('Application interne : pas d\'écran de consentement').check();
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/admin/clients/new')),
        page.getByRole('button', { name: "Déclarer l'application" }).click(),
      ]);
      assert.equal(answer.headers()['cache-control'], 'no-store');
      const secret = await page.locator('#client-secret').inputValue();
      assert.ok(secret.length >= 20, 'a client secret is shown');
      await picture(page, 'admin-client-secret');

      // Shown once: the client's page never shows it again.
      await page.goto(`${server.issuer}/admin/clients/${id}`);
      assert.ok(!(await page.content()).includes(secret), 'the secret is not on the client page');
      await picture(page, 'admin-client');

      // The application works with it.
      const user = await server.createUser({ givenName: 'Zoé', familyName: 'Urgences' });
      const config = await rpConfig(env.issuer, id, secret);
      const userPage = track(await (await newContext(env.browser)).newPage());
      const { claims } = await signIn(userPage, config, rp, user);
      assert.equal(claims.sub, user.id);

      // The helpdesk does not see the applications, and a typed address is refused.
      const helpdesk = await consoleAs(track, 'helpdesk', { givenName: 'Henri', familyName: 'Support' });
      assert.equal(await helpdesk.page.getByRole('link', { name: 'Applications' }).count(), 0);
      const refused = await helpdesk.page.goto(`${server.issuer}/admin/clients/${id}`);
      assert.equal(refused.status(), 403);
    })(t),
  );

  test('audit trail: an auditor filters by person and outcome, then exports the events as CSV', { timeout: 120_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server } = env;
      const target = await server.createUser({ givenName: 'Marc', familyName: 'Tentatives' });
      // Two failed logins for him.
      const attempts = track(await (await newContext(env.browser)).newPage());
      for (let i = 0; i < 2; i += 1) {
        await attempts.goto(`${server.issuer}/keys`);
        await submitLogin(attempts, target.username, 'pas-le-bon-mot-de-passe');
      }
      const { page } = await consoleAs(track, 'auditor', { givenName: 'Aude', familyName: 'Journal' });
      await page.getByRole('link', { name: "Journal d'audit" }).click();
      await assertAccessible(page, 'audit page');
      await page.getByLabel('Personne (identifiant ou id)').fill(target.username);
      await page.getByLabel('Résultat').selectOption('failure');
      await page.getByRole('button', { name: 'Filtrer' }).click();
      await page.getByRole('cell', { name: 'login', exact: true }).first().waitFor();
      const rows = await page.locator('table.audit tbody tr').count();
      assert.equal(rows, 2, 'his two failed logins');
      await assertAccessible(page, 'audit page with results');
      await picture(page, 'admin-audit');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Exporter ces événements en CSV' }).click(),
      ]);
      const chunks = [];
      for await (const c of await download.createReadStream()) chunks.push(c);
      const lines = Buffer.concat(chunks).toString('utf8').trim().split(/\r?\n/);
      assert.equal(lines.length, 3, `a header and two events:\n${lines.join('\n')}`);
      assert.match(lines[0], /kind/);
      assert.ok(lines.slice(1).every((l) => l.includes('login') && l.includes('failure')));
    })(t),
  );

  test('synchronisation page: each source and its runs, readable and accessible', { timeout: 60_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page } = await consoleAs(track, 'admin', { givenName: 'Sylvie', familyName: 'Synchro' });
      await page.getByRole('link', { name: 'Synchronisation' }).click();
      await page.getByRole('heading', { name: 'Synchronisation', level: 1 }).waitFor();
      await assertAccessible(page, 'synchronisation page');
      await picture(page, 'admin-sync');
      await page.goto(`${env.issuer}/admin/sync/findings`);
      await assertAccessible(page, 'reconciliation report');
    })(t),
  );

  test('roles: a password session never reaches the console, an auditor reads only', { timeout: 120_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server } = env;
      // An administrator who signs in with a password only: the console asks for a key.
      const admin = await server.createUser({ givenName: 'Paul', familyName: 'Motdepasse' });
      await server.cli(['user', 'role', 'add', admin.username, 'admin']);
      const weak = track(await (await newContext(env.browser)).newPage());
      await weak.goto(`${server.issuer}/admin`);
      await submitLogin(weak, admin.username, admin.password);
      assert.equal(
        await weak.getByRole('heading', { name: 'Tableau de bord' }).count(),
        0,
        'a password session does not open the console',
      );
      assert.ok(!new URL(weak.url()).pathname.startsWith('/admin'), `still outside the console: ${weak.url()}`);

      // An auditor: every page, no form, a read-only notice; the applications are listed for
      // them, not for the helpdesk (checked in the first test's navigation).
      const { page } = await consoleAs(track, 'auditor', { givenName: 'Agnès', familyName: 'Audit' });
      await page.getByText('Lecture seule').first().waitFor();
      await openPerson(page, admin);
      assert.equal(await page.locator('form[method=post]').count(), 0, 'no action form for an auditor');
      assert.equal(await page.getByRole('link', { name: 'Applications' }).count(), 1);

      // In English.
      await page.goto(`${server.issuer}/admin?lang=en`);
      await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
      await assertAccessible(page, 'dashboard (en)');
      await page.goto(`${server.issuer}/admin/identities?q=audit&lang=en`);
      await assertAccessible(page, 'search results (en)');
      await picture(page, 'admin-search');
    })(t),
  );
});

describe('pairings in the console (PSC sandbox)', { timeout: 240_000 }, () => {
  let env;
  let sandbox;
  const idnat = randomIdNat();
  before(async () => {
    sandbox = await startPscSandbox({
      professionals: [{ idnat, familyName: 'LEBRUN', givenName: 'NORA' }],
      cibaExpiresIn: 60,
      cibaInterval: 1,
    });
    try {
      env = await setup({
        configToml: sandbox.trousseauToml(),
        // Pairings last 20 days here: the new one is among those expiring within 30 days.
        env: {
          TROUSSEAU__WEBAUTHN__ALLOW_UNATTESTED: 'true',
          TROUSSEAU__PSC__PAIRING__VALIDITY_DAYS: '20',
          TROUSSEAU__PSC__PAIRING__WARN_DAYS: '7',
          ...sandbox.trousseauEnv,
        },
      });
    } catch (err) {
      await sandbox.stop();
      throw err;
    }
  });
  after(async () => {
    await env?.teardown();
    await sandbox?.stop();
  });

  test('a pairing expiring soon is found from the dashboard and revoked with a reason', { timeout: 150_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server } = env;
      // Nora pairs her account with e-CPS.
      const nora = await server.createUser({ givenName: 'Nora', familyName: 'Lebrun' });
      await server.cli(['user', 'link-rpps', nora.username, idnat]);
      const page = track(await (await newContext(env.browser)).newPage());
      await plugKey(page);
      await enrolKey(page, server, nora, 'Clé de Nora');
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
      await page.goto(`${server.issuer}/pairing`);
      await page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
      await page.waitForURL((u) => u.pathname === '/pairing', { waitUntil: 'load' });
      await page.getByRole('button', { name: "Appairer avec l'application e-CPS" }).click();
      await page.getByRole('heading', { name: 'Validation en attente' }).waitFor();
      const code = (await page.locator('#binding-message').innerText()).trim();
      const phone = await ecpsPhone(track(await (await newContext(env.browser)).newPage()), sandbox, idnat);
      await decideOnPhone(phone, code, 'Approuver');
      await page.locator('#pairing-live').filter({ hasText: 'Votre compte est appairé.' }).waitFor({ timeout: 20_000 });

      // The helpdesk sees it among the pairings expiring within 30 days and revokes it.
      const helpdesk = await server.createUser({ givenName: 'Hélène', familyName: 'Assistance' });
      await server.cli(['user', 'role', 'add', helpdesk.username, 'helpdesk']);
      const admin = track(await (await newContext(env.browser, { bypassCSP: true })).newPage());
      await plugKey(admin);
      await enrolKey(admin, server, helpdesk, 'Clé du support');
      await admin.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
      await admin.goto(`${server.issuer}/admin`);
      await admin
        .getByRole('button', { name: 'Se connecter avec une clé de sécurité' })
        .or(admin.getByRole('button', { name: 'Utiliser ma clé de sécurité' }))
        .first()
        .click();
      await admin.locator('#pairings-expiring').filter({ hasText: '1' }).waitFor({ timeout: 15_000 });
      await admin.getByRole('link', { name: 'Expirant dans les 30 prochains jours' }).click();
      await admin.getByRole('cell', { name: idnat }).waitFor();
      await assertAccessible(admin, 'pairings page');
      await picture(admin, 'admin-pairings');
      await admin.getByLabel('Motif (obligatoire)').fill('Départ en retraite');
      await admin.getByRole('button', { name: /Révoquer l'appairage/ }).click();
      await admin.getByRole('status').filter({ hasText: 'Appairage révoqué.' }).waitFor();

      // Her pairing page says so.
      await page.goto(`${server.issuer}/pairing`);
      assert.equal(await page.getByText('Votre compte est appairé.').count(), 0);
      const { stdout } = await server.cli(['pairing', 'list', '--json']);
      const mine = JSON.parse(stdout).filter((p) => p.idnat === idnat);
      assert.equal(mine.length, 1);
      assert.equal(mine[0].status, 'revoked');
    })(t),
  );
});
