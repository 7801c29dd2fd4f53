// Every HTML page Trousseau serves forbids framing (CSP frame-ancestors 'none') and runs no
// inline script: the browser, with CSP enforced, reports no violation on any page.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  authorizationRequest,
  newContext,
  oidc,
  rpConfig,
  setup,
  submitLogin,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

/** Parses a CSP header into a map of directive name to its list of values. */
function parseCsp(header) {
  const directives = new Map();
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

describe('Content-Security-Policy on every HTML page', { timeout: 120_000 }, () => {
  let env;
  before(async () => {
    env = await setup();
  });
  after(async () => {
    await env?.teardown();
  });

  test(
    "every Trousseau HTML response has a CSP with frame-ancestors 'none' and no inline script, and no page reports a CSP violation",
    { timeout: 90_000 },
    (t) =>
      withDiagnostics(env, async (_t, track) => {
        const { server, rp, issuer } = env;
        const user = await server.createUser();
        const firstParty = await server.createClient({ name: 'DPI', redirectUri: rp.redirectUri, firstParty: true });
        const thirdParty = await server.createClient({ name: 'Partenaire', redirectUri: rp.redirectUri });
        const configFirst = await rpConfig(issuer, firstParty.client_id, firstParty.client_secret);
        const configThird = await rpConfig(issuer, thirdParty.client_id, thirdParty.client_secret);

        // CSP is enforced in this context (no bypassCSP).
        const context = await newContext(env.browser);
        const htmlResponses = [];
        const violations = [];
        const jsErrors = [];
        context.on('response', async (res) => {
          if (new URL(res.url()).origin !== issuer) return;
          const headers = await res.allHeaders();
          if (!(headers['content-type'] ?? '').includes('text/html')) return;
          htmlResponses.push({
            url: res.url(),
            method: res.request().method(),
            status: res.status(),
            csp: headers['content-security-policy'],
          });
        });
        context.on('console', (msg) => {
          if (/content security policy/i.test(msg.text())) violations.push(`console: ${msg.text()} (${msg.page()?.url()})`);
        });
        context.on('weberror', (err) => jsErrors.push(String(err.error())));
        await context.exposeBinding('__reportCspViolation', (_source, v) => {
          violations.push(`securitypolicyviolation: ${v.directive} blocked ${v.blocked} in ${v.source}:${v.line}`);
        });
        await context.addInitScript(() => {
          document.addEventListener(
            'securitypolicyviolation',
            (e) =>
              window.__reportCspViolation({
                directive: e.effectiveDirective,
                blocked: e.blockedURI,
                source: e.sourceFile || e.documentURI,
                line: e.lineNumber,
              }),
            true,
          );
        });
        const page = track(await context.newPage());
        const settle = () => page.waitForLoadState('load').then(() => page.waitForTimeout(150));
        const seen = [];

        // 1. Login page.
        const req = await authorizationRequest(configFirst, rp.redirectUri);
        await page.goto(req.url.href);
        await page.locator('#username').waitFor({ timeout: 10_000 });
        await settle();
        seen.push('login page');

        // 2. Login page with a wrong-password error.
        await submitLogin(page, user.username, 'pas-le-bon-mot-de-passe');
        await page.getByRole('alert').first().waitFor({ timeout: 5_000 });
        await page.locator('#password').waitFor({ timeout: 5_000 }); // the login page, not an error page
        await settle();
        seen.push('login error');

        // 3. Successful login, back to the RP.
        await submitLogin(page, user.username, user.password);
        const callback = await waitForRp(page, rp);
        const tokens = await oidc.authorizationCodeGrant(configFirst, callback, {
          pkceCodeVerifier: req.codeVerifier,
          expectedNonce: req.nonce,
          expectedState: req.state,
        });

        // 4. Consent page of a non-first-party client (the SSO session skips the login page).
        const reqThird = await authorizationRequest(configThird, rp.redirectUri);
        await page.goto(reqThird.url.href);
        const allow = page.getByRole('button', { name: 'Autoriser' });
        await allow.waitFor({ timeout: 10_000 });
        await settle();
        seen.push('consent page');
        await Promise.all([page.waitForNavigation(), allow.click()]);
        await waitForRp(page, rp);

        // 5. Error page: unregistered redirect URI.
        const bad = await authorizationRequest(configFirst, `${rp.origin}/not-registered`);
        await page.goto(bad.url.href);
        await settle();
        assert.equal(new URL(page.url()).origin, issuer, 'the error page is Trousseau\'s');
        seen.push('error page');

        // 6. Logged-out page.
        await page.goto(oidc.buildEndSessionUrl(configFirst, { id_token_hint: tokens.id_token }).href);
        await settle();
        seen.push('logged-out page');

        // 7. Login page in English.
        const en = await authorizationRequest(configFirst, rp.redirectUri, { ui_locales: 'en' });
        await page.goto(en.url.href);
        await page.locator('#username').waitFor({ timeout: 10_000 });
        await settle();
        seen.push('login page (en)');

        assert.ok(htmlResponses.length >= seen.length, `HTML responses seen: ${JSON.stringify(htmlResponses, null, 1)}`);
        const problems = [];
        for (const r of htmlResponses) {
          const where = `${r.method} ${r.url} (${r.status})`;
          if (!r.csp) {
            problems.push(`${where}: no Content-Security-Policy header`);
            continue;
          }
          const csp = parseCsp(r.csp);
          const fa = csp.get('frame-ancestors');
          if (!fa || fa.length !== 1 || fa[0] !== "'none'") {
            problems.push(`${where}: frame-ancestors is not 'none' in "${r.csp}"`);
          }
          const scripts = csp.get('script-src') ?? csp.get('default-src');
          if (!scripts) problems.push(`${where}: neither script-src nor default-src in "${r.csp}"`);
          else if (scripts.includes("'unsafe-inline'") || scripts.includes('*')) {
            problems.push(`${where}: script-src allows inline or any script in "${r.csp}"`);
          }
        }
        assert.deepEqual(problems, [], `CSP problems:\n${problems.join('\n')}`);
        assert.deepEqual(violations, [], `CSP violations (an inline script or style was blocked):\n${violations.join('\n')}`);
        assert.deepEqual(jsErrors, [], `JavaScript errors on Trousseau's pages:\n${jsErrors.join('\n')}`);
      })(t),
  );
});
