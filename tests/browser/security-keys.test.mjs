// FIDO2 security keys in real Chromium: a virtual authenticator (CTAP2, USB, resident keys,
// user verification) driven over the DevTools protocol, through the full OIDC flow of a
// relying party judged by openid-client.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  REPO_ROOT,
  authorizationRequest,
  exchangeCode,
  newContext,
  rpConfig,
  setup,
  submitLogin,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

/** A security key plugged into `page`: its PIN is checked unless `uv` is false. */
async function plugKey(page, { uv = true } = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: uv,
      automaticPresenceSimulation: true,
    },
  });
  return {
    addCredential: (credential) =>
      cdp.send('WebAuthn.addCredential', { authenticatorId, credential }),
    setUserVerified: (v) =>
      cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: v }),
    credentials: async () =>
      (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}

async function enrolmentCode(server, username) {
  const { stdout } = await server.cli(['user', 'enrolment-code', username, '--checked-by', 'Accueil', '--document', 'id_card', '--json']);
  return JSON.parse(stdout.trim()).code;
}

/** Enrols the page's key for `user` on the enrolment page, with a code from the CLI. */
async function enrol(page, server, user, name = 'Clé bleue') {
  const code = await enrolmentCode(server, user.username);
  await page.goto(`${server.issuer}/keys/enrol`);
  await page.getByLabel('Identifiant').fill(user.username);
  await page.getByLabel("Code d'enrôlement").fill(code);
  await page.getByLabel('Nom de la clé').fill(name);
  await page.getByRole('button', { name: 'Enregistrer ma clé' }).click();
}

function amrOf(tokens) {
  return tokens.claims().amr ?? [];
}

describe('Security keys in Chromium (virtual authenticator)', { timeout: 180_000 }, () => {
  let env;
  before(async () => {
    env = await setup({ env: { TROUSSEAU__WEBAUTHN__ALLOW_UNATTESTED: 'true' } });
  });
  after(async () => {
    await env?.teardown();
  });

  const client = async (extra = {}) => {
    const c = await env.server.createClient({
      name: 'DPI de test',
      redirectUri: env.rp.redirectUri,
      firstParty: true,
      ...extra,
    });
    return rpConfig(env.issuer, c.client_id, c.client_secret);
  };

  test(
    'enrolment with a code, then passwordless login: the key says who it is (loa3)',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp } = env;
        const user = await server.createUser({ givenName: 'Inès', familyName: 'Bernard' });
        const page = track(await (await newContext(env.browser)).newPage());
        const key = await plugKey(page);

        await enrol(page, server, user);
        await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
        const creds = await key.credentials();
        assert.equal(creds.length, 1, 'one credential on the key');
        assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential (passwordless)');

        const config = await client();
        const request = await authorizationRequest(config, rp.redirectUri);
        await page.goto(request.url.href);
        // Conditional UI: the username field offers the person's keys where the browser can.
        assert.equal(await page.locator('#username').getAttribute('autocomplete'), 'username webauthn');
        // (Headless Chromium reports conditional mediation unavailable: the script then leaves
        // the field alone, and the button below is the way in.)
        await page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
        const callback = await waitForRp(page, rp);
        const tokens = await exchangeCode(config, callback, request);
        const claims = tokens.claims();
        assert.equal(claims.acr, 'loa3');
        assert.deepEqual(amrOf(tokens), ['hwk', 'user', 'mfa']);
        assert.equal(claims.sub, user.id, 'the key identified its owner without a username');
      })(t),
  );

  test(
    'password then key for a client demanding loa3 (step-up), and a key without its PIN is not enough alone',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp } = env;
        const user = await server.createUser();
        const page = track(await (await newContext(env.browser)).newPage());
        const key = await plugKey(page);
        await enrol(page, server, user);
        await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

        const config = await client({ minAcr: 'loa3' });
        const request = await authorizationRequest(config, rp.redirectUri);
        await page.goto(request.url.href);
        await submitLogin(page, user.username, user.password);
        // Not logged out: the step-up page asks for the key.
        const stepUp = page.getByRole('button', { name: 'Utiliser ma clé de sécurité' });
        await stepUp.waitFor({ timeout: 10_000 });
        await stepUp.click();
        const callback = await waitForRp(page, rp);
        const tokens = await exchangeCode(config, callback, request);
        assert.equal(tokens.claims().acr, 'loa3');
        const amr = amrOf(tokens);
        for (const v of ['pwd', 'hwk', 'mfa']) assert.ok(amr.includes(v), `${v} in ${amr}`);

        // The same key without its PIN checked, in a fresh browser profile: passwordless is
        // refused, with what to try next.
        const fresh = track(await (await newContext(env.browser)).newPage());
        const again = await authorizationRequest(config, rp.redirectUri);
        const noPin = await plugKey(fresh, { uv: false });
        const [cred] = await key.credentials();
        await noPin.addCredential(cred);
        await fresh.goto(again.url.href);
        await fresh.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
        const alert = fresh.locator('.key-error');
        await alert.waitFor({ state: 'visible', timeout: 20_000 });
        assert.match(await alert.innerText(), /La clé n'a pas répondu/);
        assert.ok(!rp.isAt(new URL(fresh.url()), '/cb'), 'no login without the PIN');
      })(t),
  );

  test(
    'a key revoked by an admin is refused with a clear message',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp } = env;
        const user = await server.createUser();
        const page = track(await (await newContext(env.browser)).newPage());
        await plugKey(page);
        await enrol(page, server, user);
        await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

        const { stdout } = await server.cli(['security-key', 'list', '--user', user.username, '--json']);
        const [k] = JSON.parse(stdout);
        await server.cli(['security-key', 'revoke', k.id, '--reason', 'clé perdue']);

        const config = await client();
        const request = await authorizationRequest(config, rp.redirectUri);
        await page.goto(request.url.href);
        await page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
        await page.getByRole('alert').filter({ hasText: 'retirée' }).waitFor({ timeout: 15_000 });
        assert.ok(!rp.isAt(new URL(page.url()), '/cb'));
      })(t),
  );
});

describe('Attestation policy in Chromium', { timeout: 120_000 }, () => {
  let env;
  before(async () => {
    // Only one model is accepted, from another maker: Chromium's virtual key is not it.
    const root = path.join(REPO_ROOT, 'tests', 'peers', 'webauthn', 'other-maker-root.pem');
    env = await setup({
      configToml: `[webauthn]\nallow_unattested = false\n[[webauthn.models]]\nname = "Modèle certifié"\naaguid = "2fc0579f-8113-47ea-b116-bb5a8db9202a"\nroot = "${root}"\n`,
    });
  });
  after(async () => {
    await env?.teardown();
  });

  test('a key of a model the establishment did not list is refused at enrolment', { timeout: 60_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server } = env;
      const user = await server.createUser();
      const page = track(await (await newContext(env.browser)).newPage());
      await plugKey(page);
      await enrol(page, server, user);
      await page
        .getByRole('alert')
        .filter({ hasText: "Ce modèle de clé n'est pas autorisé" })
        .waitFor({ timeout: 15_000 });
      const { stdout } = await server.cli(['security-key', 'list', '--user', user.username, '--json']);
      assert.deepEqual(JSON.parse(stdout), [], 'no key stored');
    })(t),
  );
});
