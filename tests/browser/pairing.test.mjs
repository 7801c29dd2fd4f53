// The pairing page "Mon appairage Pro Santé Connect" in real Chromium, against the project's
// PSC sandbox binary: a professional signs in with a security key (virtual authenticator,
// loa3), starts an e-CPS (CIBA) pairing, and a second page plays the e-CPS phone on the
// sandbox's /ecps page. Also: a refusal, a reload during the wait, cancelling, keyboard-only
// use, axe-core, and the "Se connecter avec e-CPS" button on the step-up page.

import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import {
  AXE_PATH,
  authorizationRequest,
  newContext,
  rpConfig,
  setup,
  startPscSandbox,
  submitLogin,
  withDiagnostics,
} from './harness.mjs';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const BLOCKING = new Set(['serious', 'critical']);
const AXE_SOURCE = readFileSync(AXE_PATH, 'utf8');

const PAIRED = 'Votre compte est appairé.';
const REFUSED = "La demande a été refusée dans l'application e-CPS. Rien n'a changé.";
const PAIR_BUTTON = "Appairer avec l'application e-CPS";
const CANCEL_BUTTON = "Annuler l'appairage";

/** A random IdNat of an RPPS number (8 + 11 digits), unique enough per run. */
function randomIdNat() {
  return `810${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

/**
 * axe-core on the page, under the page's own CSP: the library is evaluated through the
 * DevTools protocol rather than injected as a script tag (which `script-src 'self'` refuses).
 */
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

/** Presses Tab until the focused control is named `name`, as a keyboard user does. */
async function tabTo(page, name, max = 40) {
  const seen = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return '';
      return (e.innerText || e.value || e.getAttribute('aria-label') || '').trim();
    });
    if (focused === name) return;
    seen.push(focused);
  }
  throw new Error(`"${name}" is not reachable with Tab (focus went through: ${JSON.stringify(seen)})`);
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

describe('Pairing with e-CPS in Chromium (PSC sandbox)', { timeout: 240_000 }, () => {
  let env;
  let sandbox;
  const idnats = Array.from({ length: 5 }, randomIdNat);
  before(async () => {
    sandbox = await startPscSandbox({
      professionals: idnats.map((idnat, i) => ({ idnat, familyName: `MARTIN${'X'.repeat(i)}`, givenName: 'CLAIRE' })),
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

  /**
   * A professional whose account has an RPPS link made by an administrator and a security
   * key, signed in with that key on "Mon appairage Pro Santé Connect".
   */
  async function professional(track, idnat) {
    const { server } = env;
    const user = await server.createUser({ givenName: 'Claire', familyName: 'Martin' });
    await server.cli(['user', 'link-rpps', user.username, idnat]);
    const page = track(await (await newContext(env.browser)).newPage());
    await plugKey(page);
    const { stdout } = await server.cli(['user', 'enrolment-code', user.username, '--checked-by', 'Accueil', '--document', 'id_card', '--json']);
    await page.goto(`${server.issuer}/keys/enrol`);
    await page.getByLabel('Identifiant').fill(user.username);
    await page.getByLabel("Code d'enrôlement").fill(JSON.parse(stdout.trim()).code);
    await page.getByLabel('Nom de la clé').fill('Clé du bureau');
    await page.getByRole('button', { name: 'Enregistrer ma clé' }).click();
    await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

    await page.goto(`${server.issuer}/pairing`);
    await page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
    await page.waitForURL((u) => u.pathname === '/pairing', { waitUntil: 'load' });
    await page.getByRole('heading', { name: 'Mon appairage Pro Santé Connect' }).waitFor();
    return { user, page, idnat };
  }

  /** The e-CPS "phone": the sandbox's /ecps page for `idnat`, in a browser of its own. */
  async function phone(track, idnat) {
    const page = track(await (await newContext(env.browser)).newPage());
    await page.goto(`${sandbox.base}/ecps`);
    await page.getByLabel('Identifiant national (IdNat)').fill(idnat);
    await page.getByRole('button', { name: 'Afficher' }).click();
    await page.getByRole('heading', { name: new RegExp(`Demandes pour .*\\(${idnat}\\)`) }).waitFor();
    return page;
  }

  /** On the phone: the row of the request showing `code`, then Approuver or Refuser. */
  async function decide(phonePage, code, button) {
    const row = phonePage.locator('tr.request', { has: phonePage.locator('td.code', { hasText: new RegExp(`^${code}$`) }) });
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await phonePage.locator('tr.request').count(), 1, 'one pending request on the phone');
    await row.getByRole('button', { name: button }).click();
    await phonePage.getByRole('status').waitFor();
  }

  /** Starts a CIBA pairing with the keyboard; returns the two-digit code the page shows. */
  async function startPairing(page) {
    await tabTo(page, PAIR_BUTTON);
    await Promise.all([page.waitForURL((u) => u.searchParams.has('waiting')), page.keyboard.press('Enter')]);
    await page.getByRole('heading', { name: 'Validation en attente' }).waitFor();
    const code = (await page.locator('#binding-message').innerText()).trim();
    assert.match(code, /^\d{2}$/, 'a two-digit code');
    return code;
  }

  const expiryDates = () => {
    const day = (offset) => new Date(Date.now() + offset).toISOString().slice(0, 10);
    return [day(365 * 86_400_000 - 60_000), day(365 * 86_400_000 + 60_000)];
  };

  test('approved on the phone: announced in place, the active pairing with its expiry, then cancelled', { timeout: 90_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page, idnat } = await professional(track, idnats[0]);
      assert.equal(await page.locator('#pairing-record').count(), 0, 'no pairing yet');
      await assertAccessible(page, 'pairing page without a pairing');

      const code = await startPairing(page);
      await assertAccessible(page, 'pairing page waiting for e-CPS');
      // A mark that a reload would wipe out.
      await page.evaluate(() => {
        window.stillTheSamePage = true;
      });
      const expected = expiryDates();

      const phonePage = await phone(track, idnat);
      await decide(phonePage, code, 'Approuver');

      const live = page.locator('#pairing-live');
      await live.filter({ hasText: PAIRED }).waitFor({ timeout: 20_000 });
      assert.equal(await live.getAttribute('role'), 'status');
      await page.locator('#pairing-record').waitFor();
      assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'no reload');
      assert.equal(await page.locator('#pairing-wait').count(), 0, 'the wait is over');
      assert.equal(await page.locator('#pairing-idnat').innerText(), idnat);
      assert.equal(await page.locator('#pairing-status').innerText(), 'actif');
      const expires = (await page.locator('#pairing-record dt:text-is("Expire le") + dd').innerText()).trim();
      assert.ok(expected.includes(expires), `expires ${expires}, expected one of ${expected}`);
      await assertAccessible(page, 'pairing page once paired');

      await tabTo(page, CANCEL_BUTTON);
      await Promise.all([page.waitForURL((u) => u.searchParams.get('done') === 'cancelled'), page.keyboard.press('Enter')]);
      assert.equal(await page.locator('#pairing-status').innerText(), 'révoqué');
      await page.getByText('Votre appairage est annulé.').waitFor();
      await assertAccessible(page, 'pairing page after cancelling');
    })(t),
  );

  test('refused on the phone: the page says so and nothing is paired', { timeout: 90_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page, idnat } = await professional(track, idnats[1]);
      const code = await startPairing(page);
      const phonePage = await phone(track, idnat);
      await decide(phonePage, code, 'Refuser');

      const live = page.locator('#pairing-live');
      await live.filter({ hasText: REFUSED }).waitFor({ timeout: 20_000 });
      await page.locator('#pairing-wait').waitFor({ state: 'detached' });
      assert.equal(await page.locator('#pairing-record').count(), 0, 'no pairing');
      await page.getByText("Votre compte n'est pas encore appairé.").waitFor();
      // The person may try again at once.
      await page.getByRole('button', { name: PAIR_BUTTON }).waitFor();
      await assertAccessible(page, 'pairing page after a refusal');
    })(t),
  );

  test('a reload during the wait keeps the same request, which then completes', { timeout: 90_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { page, idnat } = await professional(track, idnats[2]);
      const code = await startPairing(page);
      await page.reload({ waitUntil: 'load' });
      await page.getByRole('heading', { name: 'Validation en attente' }).waitFor();
      assert.equal((await page.locator('#binding-message').innerText()).trim(), code, 'the same code after a reload');
      await page.goto(`${env.issuer}/pairing`);
      assert.equal((await page.locator('#binding-message').innerText()).trim(), code, 'the same code on a fresh visit');
      assert.equal(await page.getByRole('button', { name: PAIR_BUTTON }).count(), 0, 'no second start while waiting');

      const phonePage = await phone(track, idnat);
      await decide(phonePage, code, 'Approuver');
      await page.locator('#pairing-live').filter({ hasText: PAIRED }).waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('#pairing-status').innerText(), 'actif');
    })(t),
  );

  test('"Se connecter avec e-CPS" on the login page and on the step-up page', { timeout: 60_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server, rp } = env;
      const user = await server.createUser();
      const client = await server.createClient({
        name: 'DPI exigeant',
        redirectUri: rp.redirectUri,
        firstParty: true,
        minAcr: 'loa3',
      });
      const config = await rpConfig(env.issuer, client.client_id, client.client_secret);
      const page = track(await (await newContext(env.browser)).newPage());
      const request = await authorizationRequest(config, rp.redirectUri);
      await page.goto(request.url.href);
      const ecps = page.getByRole('link', { name: 'Se connecter avec e-CPS' });
      await ecps.waitFor();
      await submitLogin(page, user.username, user.password);
      // The password is not enough for this client: the step-up page asks for a second factor
      // and offers e-CPS among the ways to give it.
      await page.locator('#username').waitFor({ state: 'detached' });
      await ecps.waitFor();
      assert.match(await ecps.getAttribute('href'), /^\/login\/psc\?flow=/);
      await assertAccessible(page, 'step-up page');
    })(t),
  );
});
