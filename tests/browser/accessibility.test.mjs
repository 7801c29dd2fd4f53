// Accessibility of Trousseau's pages, checked by axe-core in Chromium: no violation of impact
// "serious" or "critical" among the WCAG 2.0/2.1 level A and AA rules.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  assertAccessible,
  authorizationRequest,
  newContext,
  oidc,
  rpConfig,
  setup,
  signIn,
  submitLogin,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

describe('accessibility of every page (axe-core, WCAG 2.1 A/AA, serious and critical)', { timeout: 120_000 }, () => {
  let env;
  let user;
  let firstParty;
  let thirdParty;
  before(async () => {
    env = await setup();
    const { server, rp } = env;
    user = await server.createUser({ givenName: 'Hélène', familyName: 'Lefèvre' });
    firstParty = await server.createClient({
      name: 'Dossier patient',
      redirectUri: rp.redirectUri,
      firstParty: true,
    });
    thirdParty = await server.createClient({
      name: 'Application partenaire',
      redirectUri: rp.redirectUri,
    });
  });
  after(async () => {
    await env?.teardown();
  });

  const newPage = async (track) => {
    const context = await newContext(env.browser, { bypassCSP: true });
    return track(await context.newPage());
  };
  const config = (client) => rpConfig(env.issuer, client.client_id, client.client_secret);

  test('login page, in French', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const page = await newPage(track);
      const { url } = await authorizationRequest(await config(firstParty), env.rp.redirectUri);
      await page.goto(url.href);
      await page.locator('#username').waitFor({ timeout: 10_000 });
      assert.match((await page.locator('html').getAttribute('lang')) ?? '', /^fr/);
      await assertAccessible(page, 'login page (fr)');
    })(t),
  );

  test('login page, in English (ui_locales=en)', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const page = await newPage(track);
      const { url } = await authorizationRequest(await config(firstParty), env.rp.redirectUri, {
        ui_locales: 'en',
      });
      await page.goto(url.href);
      await page.locator('#username').waitFor({ timeout: 10_000 });
      assert.match((await page.locator('html').getAttribute('lang')) ?? '', /^en/, 'ui_locales=en gives an English page');
      await assertAccessible(page, 'login page (en)');
    })(t),
  );

  test('login page showing a wrong-password error', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const page = await newPage(track);
      const { url } = await authorizationRequest(await config(firstParty), env.rp.redirectUri);
      await page.goto(url.href);
      await page.locator('#username').waitFor({ timeout: 10_000 });
      await submitLogin(page, user.username, 'pas-le-bon-mot-de-passe');
      await page.getByRole('alert').first().waitFor({ timeout: 5_000 });
      await page.locator('#password').waitFor({ timeout: 5_000 }); // the login page, not an error page
      await assertAccessible(page, 'login page with error');
    })(t),
  );

  test('consent page of a non-first-party client, then "Autoriser" completes the flow', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { rp, issuer } = env;
      const rpConf = await config(thirdParty);
      const page = await newPage(track);
      const request = await authorizationRequest(rpConf, rp.redirectUri);
      await page.goto(request.url.href);
      await page.locator('#username').waitFor({ timeout: 10_000 });
      await submitLogin(page, user.username, user.password);
      const allow = page.getByRole('button', { name: 'Autoriser' });
      await allow.waitFor({ timeout: 10_000 });
      assert.equal(new URL(page.url()).origin, issuer, 'the consent page is served by Trousseau');
      await assertAccessible(page, 'consent page');

      await Promise.all([page.waitForNavigation(), allow.click()]);
      const callback = await waitForRp(page, rp);
      const tokens = await oidc.authorizationCodeGrant(rpConf, callback, {
        pkceCodeVerifier: request.codeVerifier,
        expectedNonce: request.nonce,
        expectedState: request.state,
      });
      assert.ok(tokens.claims()?.sub, 'consent given: the code is exchanged for an ID token');
    })(t),
  );

  test('error page for an unregistered redirect URI (shown by Trousseau, no redirect)', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { rp, issuer } = env;
      const page = await newPage(track);
      const bad = `${rp.origin}/not-registered`;
      const { url } = await authorizationRequest(await config(firstParty), bad);
      const response = await page.goto(url.href);
      assert.equal(new URL(page.url()).origin, issuer, `no redirect away from Trousseau (now at ${page.url()})`);
      assert.ok(!rp.requests.some((r) => r.path === '/not-registered'), 'nothing reached the unregistered URI');
      assert.ok(response.status() >= 400 && response.status() < 500, `a 4xx status (got ${response.status()})`);
      assert.match(response.headers()['content-type'] ?? '', /text\/html/, 'an HTML page');
      await assertAccessible(page, 'error page');
    })(t),
  );

  test('logged-out page (end_session without post_logout_redirect_uri)', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { rp, issuer } = env;
      const rpConf = await config(firstParty);
      const page = await newPage(track);
      const { tokens } = await signIn(page, rpConf, rp, user);
      const endSession = oidc.buildEndSessionUrl(rpConf, { id_token_hint: tokens.id_token });
      const response = await page.goto(endSession.href);
      assert.equal(new URL(page.url()).origin, issuer, `the page is Trousseau's (now at ${page.url()})`);
      assert.equal(response.status(), 200);
      await assertAccessible(page, 'logged-out page');
    })(t),
  );

  test('security-key enrolment page, and the key list of a signed-in person', { timeout: 30_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { rp } = env;
      const page = await newPage(track);
      await page.goto(`${env.issuer}/keys/enrol`);
      await page.locator('#code').waitFor({ timeout: 10_000 });
      await assertAccessible(page, 'security-key enrolment page');
      await signIn(page, await config(firstParty), rp, user);
      await page.goto(`${env.issuer}/keys`);
      await page.getByRole('heading', { name: 'Mes clés de sécurité' }).waitFor({ timeout: 10_000 });
      await assertAccessible(page, 'security-key list');
    })(t),
  );
});
