// Enrolling a security key on the authority of e-CPS, in real Chromium against the project's
// PSC sandbox binary: a professional without an enrolment code signs in with their password,
// asks for "Activer une clé avec l'application e-CPS" on the enrolment page, a second page plays
// the e-CPS phone on the sandbox's /ecps page, and the key (a virtual authenticator) is
// enrolled once the approval arrives. Also: a refusal on the phone, and axe-core on each step.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { AXE_PATH, newContext, setup, startPscSandbox, submitLogin, withDiagnostics } from './harness.mjs';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const BLOCKING = new Set(['serious', 'critical']);
const AXE_SOURCE = readFileSync(AXE_PATH, 'utf8');

const ASK_BUTTON = "Activer une clé avec l'application e-CPS";
const PROVEN = 'Validation e-CPS reçue : vous pouvez activer votre clé.';
const REFUSED = "La demande a été refusée dans l'application e-CPS. Aucune clé n'a été activée.";

function randomIdNat() {
  return `810${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

/** axe-core on the page, evaluated through the DevTools protocol (the CSP refuses a script tag). */
async function assertAccessible(page, label) {
  await page.waitForLoadState('load');
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.evaluate(AXE_SOURCE);
  }
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG_TAGS,
  );
  const blocking = results.violations.filter((v) => BLOCKING.has(v.impact));
  const report = blocking
    .map((v) => `  - ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
    .join('\n');
  assert.equal(blocking.length, 0, `${label} (${page.url()}) has accessibility violations:\n${report}`);
}

/** A security key plugged into `page` (CTAP2, resident keys, PIN checked). */
async function plugKey(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
}

describe('Enrolling a key with e-CPS in Chromium (PSC sandbox)', { timeout: 180_000 }, () => {
  let env;
  let sandbox;
  const idnats = Array.from({ length: 2 }, randomIdNat);
  before(async () => {
    sandbox = await startPscSandbox({
      professionals: idnats.map((idnat, i) => ({ idnat, familyName: `BERNARD${'X'.repeat(i)}`, givenName: 'LUCIE' })),
      cibaExpiresIn: 60,
      cibaInterval: 1,
    });
    try {
      env = await setup({
        configToml: sandbox.trousseauToml(),
        env: { TROUSSEAU__WEBAUTHN__ALLOW_UNATTESTED: 'true', ...sandbox.trousseauEnv },
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

  /** A professional linked by an administrator, signed in with their password on /keys/enrol. */
  async function professional(track, idnat) {
    const { server } = env;
    const user = await server.createUser({ givenName: 'Lucie', familyName: 'Bernard' });
    await server.cli(['user', 'link-rpps', user.username, idnat]);
    const page = track(await (await newContext(env.browser)).newPage());
    await page.goto(`${server.issuer}/keys`);
    await page.locator('#username').waitFor({ timeout: 10_000 });
    await submitLogin(page, user.username, user.password);
    await page.goto(`${server.issuer}/keys/enrol`);
    await page.getByRole('heading', { name: 'Enregistrer une clé de sécurité' }).waitFor();
    return { user, page };
  }

  /** The e-CPS "phone": the sandbox's /ecps page for `idnat`. */
  async function phone(track, idnat) {
    const page = track(await (await newContext(env.browser)).newPage());
    await page.goto(`${sandbox.base}/ecps`);
    await page.getByLabel('Identifiant national (IdNat)').fill(idnat);
    await page.getByRole('button', { name: 'Afficher' }).click();
    await page.getByRole('heading', { name: new RegExp(`Demandes pour .*\\(${idnat}\\)`) }).waitFor();
    return page;
  }

  async function decide(phonePage, code, button) {
    const row = phonePage.locator('tr.request', { has: phonePage.locator('td.code', { hasText: new RegExp(`^${code}$`) }) });
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: button }).click();
    await phonePage.getByRole('status').waitFor();
  }

  /** Asks the e-CPS app; the two-digit code the page shows. */
  async function ask(page) {
    await assertAccessible(page, 'enrolment page offering e-CPS');
    await Promise.all([
      page.waitForURL((u) => u.searchParams.has('waiting')),
      page.getByRole('button', { name: ASK_BUTTON }).click(),
    ]);
    await page.getByRole('heading', { name: "Validation en attente dans l'application e-CPS" }).waitFor();
    const code = (await page.locator('#binding-message').innerText()).trim();
    assert.match(code, /^\d{2}$/, 'a two-digit code');
    await assertAccessible(page, 'enrolment page waiting for e-CPS');
    return code;
  }

  test('approved on the phone: the page asks only for a name, and the key is enrolled', { timeout: 90_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page } = await professional(track, idnats[0]);
      assert.equal(await page.locator('#code').count(), 1, 'a code is asked until e-CPS says yes');
      const code = await ask(page);
      const phonePage = await phone(track, idnats[0]);
      await decide(phonePage, code, 'Approuver');

      await page.getByText(PROVEN).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#code').count(), 0, 'no code asked any more');
      assert.equal(await page.locator('#pairing-wait').count(), 0, 'the wait is over');
      await assertAccessible(page, 'enrolment page authorised by e-CPS');
      await plugKey(page);
      await page.getByLabel('Nom de la clé').fill('Clé du service');
      await page.getByRole('button', { name: 'Enregistrer ma clé' }).click();
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

      const { stdout } = await env.server.cli(['security-key', 'list', '--json']);
      const keys = JSON.parse(stdout.trim()).filter((k) => k.name === 'Clé du service');
      assert.equal(keys.length, 1);
      assert.equal(keys[0].created_via, 'ecps_ciba');
    })(t),
  );

  test('refused on the phone: the page says so and a code is still asked', { timeout: 90_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page } = await professional(track, idnats[1]);
      const code = await ask(page);
      const phonePage = await phone(track, idnats[1]);
      await decide(phonePage, code, 'Refuser');
      await page.getByText(REFUSED).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#code').count(), 1, 'a code is asked');
      await page.getByRole('button', { name: ASK_BUTTON }).waitFor();
      await assertAccessible(page, 'enrolment page after a refusal');
    })(t),
  );
});
