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
  enrolKey,
  exchangeCode,
  newContext,
  plugKey,
  rpConfig,
  setup,
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
