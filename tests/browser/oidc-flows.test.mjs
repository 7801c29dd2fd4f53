// OpenID Connect flows driven by a real browser (Chromium) and judged by a certified relying
// party (openid-client 6), against a real Trousseau server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  authorizationRequest,
  exchangeCode,
  newContext,
  oidc,
  rpConfig,
  setup,
  signIn,
  submitLogin,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

describe('OpenID Connect flows in Chromium, checked by openid-client', { timeout: 120_000 }, () => {
  let env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env?.teardown();
  });

  /** A French-speaking browser profile with its own cookie jar. */
  const newPage = async (track) => {
    const context = await newContext(env.browser);
    return track(await context.newPage());
  };

  test(
    'discovery, then code flow with PKCE S256, nonce and state; ID token claims, refresh rotation, userinfo, introspection and revocation',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp, issuer } = env;
        const user = await server.createUser({ givenName: 'Élise', familyName: 'Martin' });
        const client = await server.createClient({
          name: 'DPI de test',
          redirectUri: rp.redirectUri,
          firstParty: true,
        });
        const config = await rpConfig(issuer, client.client_id, client.client_secret);

        const md = config.serverMetadata();
        assert.equal(md.issuer, issuer, 'discovery: issuer is the public URL');
        assert.ok(md.authorization_endpoint?.startsWith(issuer), 'discovery: authorization_endpoint');
        assert.ok(md.token_endpoint?.startsWith(issuer), 'discovery: token_endpoint');
        assert.ok(md.jwks_uri?.startsWith(issuer), 'discovery: jwks_uri');
        assert.ok(md.userinfo_endpoint, 'discovery: userinfo_endpoint');
        assert.ok(md.introspection_endpoint, 'discovery: introspection_endpoint');
        assert.ok(md.revocation_endpoint, 'discovery: revocation_endpoint');
        assert.ok(md.end_session_endpoint, 'discovery: end_session_endpoint');
        assert.ok(md.code_challenge_methods_supported?.includes('S256'), 'discovery: PKCE S256');

        const page = await newPage(track);
        const request = await authorizationRequest(config, rp.redirectUri);
        await page.goto(request.url.href);

        // The login page, in French, with labelled fields.
        await page.locator('#username').waitFor({ timeout: 10_000 });
        assert.equal(new URL(page.url()).origin, issuer, 'the login page is served by Trousseau');
        assert.match((await page.locator('html').getAttribute('lang')) ?? '', /^fr/, 'html lang is French');
        assert.equal(await page.getByLabel('Identifiant').getAttribute('id'), 'username', 'label "Identifiant"');
        assert.equal(await page.getByLabel('Mot de passe').getAttribute('id'), 'password', 'label "Mot de passe"');

        await submitLogin(page, user.username, user.password);
        const callback = await waitForRp(page, rp);
        assert.ok(
          rp.requests.some((r) => r.path === '/cb' && r.params.code === callback.searchParams.get('code')),
          'the RP callback server received the code',
        );

        // openid-client checks state, iss (when advertised), the token response, the ID token
        // (iss, aud, exp, iat, nonce and, with non-repudiation checks, its signature).
        const tokens = await exchangeCode(config, callback, request);
        assert.ok(tokens.access_token, 'access_token issued');
        assert.equal(tokens.token_type.toLowerCase(), 'bearer');
        assert.ok(tokens.refresh_token, 'refresh_token issued');
        const claims = tokens.claims();
        assert.ok(claims, 'an ID token was issued');
        assert.equal(typeof claims.sub, 'string');
        assert.ok(claims.sub.length > 0, 'sub is not empty');
        assert.equal(claims.nonce, request.nonce);
        assert.equal(typeof claims.auth_time, 'number', 'auth_time is a number');
        const now = Math.floor(Date.now() / 1000);
        assert.ok(Math.abs(now - claims.auth_time) < 120, `auth_time ${claims.auth_time} is now (${now})`);
        assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr contains "pwd": ${JSON.stringify(claims.amr)}`);
        assert.equal(claims.acr, 'loa1', 'a password alone gives acr loa1');

        // Refresh: a new refresh token (rotation).
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
        assert.ok(refreshed.access_token, 'refresh gives an access token');
        assert.ok(refreshed.refresh_token, 'refresh gives a new refresh token');
        assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'the refresh token is rotated');
        const refreshedClaims = refreshed.claims();
        if (refreshedClaims) {
          assert.equal(refreshedClaims.sub, claims.sub, 'refreshed ID token: same sub');
          assert.equal(refreshedClaims.auth_time, claims.auth_time, 'refreshed ID token: same auth_time');
        }

        // Userinfo, with openid-client's check that sub matches the ID token.
        const info = await oidc.fetchUserInfo(config, refreshed.access_token, claims.sub);
        assert.equal(info.sub, claims.sub);
        assert.equal(info.given_name, user.givenName, 'userinfo: given_name (scope profile)');
        assert.equal(info.family_name, user.familyName, 'userinfo: family_name (scope profile)');
        assert.equal(info.email, user.email, 'userinfo: email (scope email)');

        // Introspection of the access token.
        const intro = await oidc.tokenIntrospection(config, refreshed.access_token);
        assert.equal(intro.active, true, `introspection: active (${JSON.stringify(intro)})`);
        if (intro.sub !== undefined) assert.equal(intro.sub, claims.sub, 'introspection: sub');
        if (intro.client_id !== undefined) assert.equal(intro.client_id, client.client_id, 'introspection: client_id');

        // Revocation of the refresh token: it can no longer be used.
        await oidc.tokenRevocation(config, refreshed.refresh_token);
        await assert.rejects(
          oidc.refreshTokenGrant(config, refreshed.refresh_token),
          (err) => err?.error === 'invalid_grant',
          'a revoked refresh token is refused with invalid_grant',
        );
      })(t),
  );

  test(
    'single sign-on: a second client in the same browser gets its code without the login page',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp, issuer } = env;
        const user = await server.createUser();
        const a = await server.createClient({ name: 'DPI', redirectUri: rp.redirectUri, firstParty: true });
        const b = await server.createClient({ name: 'Portail', redirectUri: rp.redirectUri, firstParty: true });
        const configA = await rpConfig(issuer, a.client_id, a.client_secret);
        const configB = await rpConfig(issuer, b.client_id, b.client_secret);

        const page = await newPage(track);
        const first = await signIn(page, configA, rp, user);

        const trousseauPages = [];
        page.on('response', (res) => {
          const type = res.headers()['content-type'] ?? '';
          const redirect = res.status() >= 300 && res.status() < 400;
          if (res.url().startsWith(issuer) && type.includes('text/html') && !redirect) {
            trousseauPages.push(`${res.status()} ${res.url()}`);
          }
        });
        const request = await authorizationRequest(configB, rp.redirectUri);
        await page.goto(request.url.href);
        assert.ok(
          rp.isAt(page.url(), '/cb'),
          `the browser went straight back to the RP (now at ${page.url()}; Trousseau pages seen: ${trousseauPages.join(', ') || 'none'})`,
        );
        assert.deepEqual(trousseauPages, [], 'no Trousseau page was shown');
        const tokens = await exchangeCode(configB, new URL(page.url()), request);
        const claims = tokens.claims();
        const subjectTypes = configB.serverMetadata().subject_types_supported ?? ['public'];
        if (subjectTypes.includes('public')) assert.equal(claims.sub, first.claims.sub, 'same person');
        assert.equal(claims.auth_time, first.claims.auth_time, 'no new authentication: same auth_time');
        assert.ok(claims.amr?.includes('pwd'), 'amr carried over from the session');
        assert.equal(claims.acr, first.claims.acr, 'same acr');
      })(t),
  );

  test(
    'RP-initiated logout: end_session with id_token_hint returns to the registered post_logout_redirect_uri with state, and the login page is shown again',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp, issuer } = env;
        const user = await server.createUser();
        const client = await server.createClient({
          name: 'DPI',
          redirectUri: rp.redirectUri,
          postLogoutRedirectUri: rp.postLogoutUri,
          firstParty: true,
        });
        const config = await rpConfig(issuer, client.client_id, client.client_secret);
        const page = await newPage(track);
        const { tokens } = await signIn(page, config, rp, user);

        const state = oidc.randomState();
        const endSession = oidc.buildEndSessionUrl(config, {
          id_token_hint: tokens.id_token,
          post_logout_redirect_uri: rp.postLogoutUri,
          state,
        });
        await page.goto(endSession.href);
        const landed = await waitForRp(page, rp, '/logged-out');
        assert.equal(landed.searchParams.get('state'), state, 'state is returned to the RP');

        // The SSO session is gone: a new authorization request asks for the password again.
        const again = await authorizationRequest(config, rp.redirectUri);
        await page.goto(again.url.href);
        assert.equal(new URL(page.url()).origin, issuer, `stayed on Trousseau (now at ${page.url()})`);
        await page.locator('#username').waitFor({ timeout: 5_000 });
        assert.ok(await page.locator('#password').isVisible(), 'the login form is shown again');
      })(t),
  );

  test(
    'a wrong password shows a French error message (role="alert") and the login form again',
    { timeout: 60_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp, issuer } = env;
        const user = await server.createUser();
        const client = await server.createClient({ name: 'DPI', redirectUri: rp.redirectUri, firstParty: true });
        const config = await rpConfig(issuer, client.client_id, client.client_secret);
        const page = await newPage(track);
        const request = await authorizationRequest(config, rp.redirectUri);
        await page.goto(request.url.href);
        await page.locator('#username').waitFor({ timeout: 10_000 });
        const callbacksBefore = rp.requests.length;

        await submitLogin(page, user.username, `${user.password}-faux`);

        assert.equal(new URL(page.url()).origin, issuer, `still on Trousseau (now at ${page.url()})`);
        const alert = page.getByRole('alert');
        await alert.first().waitFor({ timeout: 5_000 });
        const text = (await alert.first().innerText()).trim();
        assert.ok(text.length > 0, 'the alert has text');
        assert.match(
          text,
          /identifiant|mot de passe|incorrect|invalide|échec|erreur/i,
          `the message is in French: "${text}"`,
        );
        assert.match((await page.locator('html').getAttribute('lang')) ?? '', /^fr/, 'html lang is French');
        assert.ok(await page.locator('#username').isVisible(), 'the username field is still there');
        assert.ok(await page.locator('#password').isVisible(), 'the password field is still there');
        assert.ok(
          await page.locator('form:has(#password) [type=submit]').first().isVisible(),
          'the submit button is still there',
        );
        assert.equal(rp.requests.length, callbacksBefore, 'nothing was sent to the RP');

        // The form still works: the right password now completes the flow.
        await submitLogin(page, user.username, user.password);
        const callback = await waitForRp(page, rp);
        const tokens = await exchangeCode(config, callback, request);
        assert.ok(tokens.claims()?.amr?.includes('pwd'));
      })(t),
  );
});
