// Trousseau as the establishment's identity provider of Pro Santé Connect, in real Chromium
// over real processes: the `trousseau` binary, and the PSC sandbox binary playing PSC's broker
// (`[[brokers]]`, `kc_idp_hint`) and two national services of its own. A nurse signs in to a
// DPI with her security key, then opens national services: the first time Trousseau's pairing
// page and the sandbox's pairing screen (two e-CPS approvals on the sandbox's phone page), then
// only PSC's confirmation; past the maximum authentication age, a password-only session, a
// revoked pairing and an e-CPS session each get what the federation profile demands; logging
// out at Trousseau ends PSC's session and reaches the DPI's back-channel logout. Nothing is
// waited for: the maximum authentication age is configured short, and the end of PSC's own
// session (30 minutes idle) is played by clearing the sandbox's cookies.
//
// A second test lets openid-client (a certified relying party) act as PSC's broker and
// validate Trousseau's ID token and its federation claims.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import {
  PSC_SANDBOX_TROUSSEAU_ENV,
  authorizationRequest,
  decideOnPhone,
  ecpsPhone,
  enrolKey,
  exchangeCode,
  freePort,
  newContext,
  plugKey,
  pscSandboxIssuer,
  pscToml,
  randomIdNat,
  rpConfig,
  setup,
  startPscSandbox,
  startRp,
  submitLogin,
  uniq,
  waitForRp,
  withDiagnostics,
} from './harness.mjs';

/** The alias under which the sandbox's broker knows this Trousseau (`kc_idp_hint`). */
const ALIAS = 'chu-test';
/** The establishment's tenant id in Trousseau's ID tokens for PSC. */
const TID = 'chu-test';
/** The secret of the sandbox's national services. */
const SERVICE_SECRET = 'service-secret-for-browser-tests';
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Authentication Method Reference values registered by RFC 8176. */
const RFC8176_AMR = new Set([
  'face', 'fpt', 'geo', 'hwk', 'iris', 'kba', 'mca', 'mfa', 'otp', 'pin', 'pop', 'pwd', 'rba',
  'retina', 'sc', 'sms', 'swk', 'tel', 'user', 'vbm', 'wia',
]);

const KEY_LOGIN = 'Se connecter avec une clé de sécurité';
const PAIRED = 'Votre compte est appairé.';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The professionals of the sandbox's RPPS file. */
const NURSE = { idnat: randomIdNat(), familyName: 'MOREAU', givenName: 'INES', nurse: true };
const OTHER = { idnat: randomIdNat(), familyName: 'DURAND', givenName: 'PAUL', nurse: true };

/** Verifies a logout token (OIDC Back-Channel Logout 1.0 §2.4, §2.6) with the issuer's JWKS. */
async function verifyLogoutToken(token, { issuer, jwksUri, audience }) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(jwksUri)), {
    issuer,
    audience,
    algorithms: ['RS256', 'ES256', 'PS256'],
  });
  assert.equal(typeof payload.events?.[BACKCHANNEL_EVENT], 'object', 'the back-channel logout event');
  assert.equal(payload.nonce, undefined, 'a logout token carries no nonce');
  assert.ok(payload.sid || payload.sub, 'sid or sub');
  assert.ok(payload.iat && payload.jti, 'iat and jti');
  return payload;
}

/**
 * Waits until `receiver` got, at `pathname`, a valid logout token for the session `sid`
 * (other sessions' tokens may arrive too); its claims.
 */
async function logoutTokenFor(receiver, pathname, sid, verifyOptions, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    for (const post of receiver.posts(pathname)) {
      const claims = await verifyLogoutToken(post.form.logout_token, verifyOptions);
      if (claims.sid === sid) return claims;
    }
    if (Date.now() > deadline) {
      throw new Error(`no logout token for the session ${sid} at ${pathname} within ${timeout} ms`);
    }
    await sleep(100);
  }
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('Federation with Pro Santé Connect in Chromium (the PSC sandbox as the broker)', { timeout: 300_000 }, () => {
  let env;
  let sandbox;
  /** The national services' callback server: service `a` at /a/cb, `b` at /b/cb. */
  let services;
  /** PSC's broker registered at Trousseau (`--psc-broker`). */
  let broker;

  before(async () => {
    // The sandbox's address goes into Trousseau's `[psc]`, Trousseau's address and the broker's
    // client secret into the sandbox's `[[brokers]]`: the port is chosen first.
    const sandboxPort = await freePort();
    const pscIssuer = pscSandboxIssuer(sandboxPort);
    env = await setup({
      configToml: `${pscToml(pscIssuer)}[psc.federation]\ntid = "${TID}"\n`,
      env: { TROUSSEAU__WEBAUTHN__ALLOW_UNATTESTED: 'true', ...PSC_SANDBOX_TROUSSEAU_ENV },
    });
    try {
      broker = await env.server.createClient({
        id: uniq('psc'),
        name: 'Pro Santé Connect',
        pscBroker: true,
        redirectUri: `${pscIssuer}/broker/${ALIAS}/endpoint`,
        backchannelLogoutUri: `${pscIssuer}/broker/${ALIAS}/backchannel-logout`,
        grants: ['authorization_code'],
        scopes: ['openid', 'profile', 'email'],
      });
      services = await startRp();
      const service = (id) =>
        [
          '[[clients]]',
          `client_id = "service-${id}"`,
          `secret = "${SERVICE_SECRET}"`,
          `redirect_uris = ["${services.origin}/${id}/cb"]`,
          `backchannel_logout_uri = "${services.origin}/${id}/backchannel"`,
        ].join('\n');
      sandbox = await startPscSandbox({
        port: sandboxPort,
        professionals: [NURSE, OTHER],
        redirectUri: `${env.issuer}/psc/callback`,
        cibaExpiresIn: 60,
        cibaInterval: 1,
        extraToml: [
          service('a'),
          service('b'),
          '[[brokers]]',
          `alias = "${ALIAS}"`,
          `trousseau_issuer = "${env.issuer}"`,
          `client_id = "${broker.client_id}"`,
          `client_secret = "${broker.client_secret}"`,
        ].join('\n'),
      });
    } catch (err) {
      await services?.stop();
      await env.teardown();
      throw err;
    }
  });
  after(async () => {
    await env?.teardown();
    await services?.stop();
    await sandbox?.stop();
  });

  /** A new browser profile (its own cookies) and its first page. */
  async function newPage(track) {
    return track(await (await newContext(env.browser)).newPage());
  }

  /** openid-client for the sandbox's national service `id` (`a` or `b`). */
  const serviceConfig = (id) => rpConfig(sandbox.issuer, `service-${id}`, SERVICE_SECRET);

  /** A national service's request to PSC, asking for the establishment's Trousseau. */
  function serviceRequest(config, id) {
    return authorizationRequest(config, `${services.origin}/${id}/cb`, {
      scope: 'openid scope_all',
      acr_values: 'eidas1',
      kc_idp_hint: ALIAS,
    });
  }

  /** Waits until the national service `id` got the browser back; its tokens' claims. */
  async function serviceClaims(page, config, id, request, timeout = 20_000) {
    const callback = await waitForRp(page, services, `/${id}/cb`, timeout);
    const tokens = await exchangeCode(config, callback, request);
    return tokens.claims();
  }

  /** The pages `page` showed (committed main-frame navigations), for "no screen" checks. */
  function shownPages(page) {
    const urls = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) urls.push(frame.url());
    });
    return urls;
  }

  /** Trousseau's pages among `urls`. */
  const trousseauPages = (urls) => urls.filter((u) => new URL(u).origin === env.issuer);

  /** Forgets PSC's session in this browser (the sandbox's cookies), as after its timeout. */
  const pscSessionOver = (page) => page.context().clearCookies({ domain: '127.0.0.1' });

  /** Starts a CIBA pairing on Trousseau's pairing page; returns the code it shows. */
  async function startCibaPairing(page) {
    await Promise.all([
      page.waitForURL((u) => u.searchParams.has('waiting')),
      page.locator('form:has(input[name=means][value=ciba]) [type=submit]').click(),
    ]);
    const code = (await page.locator('#binding-message').innerText()).trim();
    assert.match(code, /^\d{2}$/, 'a two-digit code');
    return code;
  }

  /** The e-CPS phone of `idnat` approves the request showing `code`. */
  async function approveOnPhone(track, idnat, code) {
    const phone = await ecpsPhone(await newPage(track), sandbox, idnat);
    await decideOnPhone(phone, code, 'Approuver');
    await phone.context().close();
  }

  /** Pairs on Trousseau's pairing page (already shown, signed in) through e-CPS. */
  async function pairWithEcps(track, page, idnat) {
    const code = await startCibaPairing(page);
    await approveOnPhone(track, idnat, code);
    await page.locator('#pairing-live').filter({ hasText: PAIRED }).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#pairing-status').innerText(), 'actif');
  }

  /** On the sandbox's confirmation screen: its question, then Confirmer. */
  async function confirmAtPsc(page, account) {
    await page.getByRole('heading', { name: 'Confirmation de connexion' }).waitFor();
    const question = await page.locator('#question').innerText();
    assert.match(
      question,
      new RegExp(`^Bonjour ${NURSE.givenName} ${NURSE.familyName}, confirmez-vous vouloir accéder à Pro Santé Connect avec votre compte ${escapeRegExp(account)} \\(${ALIAS}\\) \\?$`),
    );
    await page.getByRole('button', { name: 'Confirmer' }).click();
  }

  /** The claims PSC gives a national service for the nurse, through this Trousseau. */
  function assertNurseClaims(claims, amr) {
    assert.equal(claims.SubjectNameID, NURSE.idnat, 'SubjectNameID is her IdNat');
    assert.equal(claims.preferred_username, NURSE.idnat);
    assert.equal(claims.given_name, NURSE.givenName);
    assert.equal(claims.family_name, NURSE.familyName);
    assert.equal(claims.acr, 'eidas1');
    assert.equal(claims.authMode, 'FI_TIERS');
    for (const v of amr) assert.ok(claims.amr.includes(v), `${v} in amr ${claims.amr}`);
  }

  // The journey: each step builds on the previous ones; after a failure the rest is skipped.
  describe('a nurse, her DPI and the national services', () => {
    const journey = {};
    let broken = false;
    const step = (name, body) =>
      test(name, { timeout: 90_000 }, (t) => {
        if (broken) {
          t.skip('an earlier step failed');
          return undefined;
        }
        return withDiagnostics(env, async (_t, track) => {
          for (const p of journey.pages ?? []) track(p);
          try {
            await body(track);
          } catch (err) {
            broken = true;
            throw err;
          }
        })(t);
      });

    /** The DPI's code flow in `page`, `how` doing what the login page asks; its claims. */
    async function dpiSignIn(page, how = async () => {}) {
      const request = await authorizationRequest(journey.dpi, env.rp.redirectUri);
      await page.goto(request.url.href);
      await how(page);
      const callback = await waitForRp(page, env.rp);
      return (await exchangeCode(journey.dpi, callback, request)).claims();
    }

    step('1. she signs in to the DPI with her security key', async (track) => {
      const { server, rp } = env;
      const user = await server.createUser({ givenName: 'Inès', familyName: 'Moreau' });
      await server.cli(['user', 'link-rpps', user.username, NURSE.idnat]);
      const page = await newPage(track);
      journey.pages = [page];
      journey.shown = shownPages(page);
      await plugKey(page);
      await enrolKey(page, server, user, 'Clé du service');
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
      const dpi = await server.createClient({
        name: 'DPI du CHU',
        redirectUri: rp.redirectUri,
        firstParty: true,
        backchannelLogoutUri: `${rp.origin}/backchannel`,
      });
      journey.dpi = await rpConfig(env.issuer, dpi.client_id, dpi.client_secret);
      journey.dpiId = dpi.client_id;
      const claims = await dpiSignIn(page, (p) => p.getByRole('button', { name: KEY_LOGIN }).click());
      assert.equal(claims.sub, user.id);
      assert.equal(claims.acr, 'loa3');
      assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
      Object.assign(journey, { user, page, dpiSid: claims.sid, authTime: claims.auth_time });
      journey.serviceA = await serviceConfig('a');
      journey.serviceB = await serviceConfig('b');
    });

    step('2. first national service: no prompt at Trousseau, its pairing page, PSC\'s pairing screen, then her IdNat', async (track) => {
      const { page, shown, user } = journey;
      const request = await serviceRequest(journey.serviceA, 'a');
      const mark = shown.length;
      await page.goto(request.url.href);
      // The sandbox sent her to Trousseau, which asks for no login: only the pairing is missing.
      await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/pairing', { waitUntil: 'load' });
      await page.getByRole('heading', { name: 'Mon appairage Pro Santé Connect' }).waitFor();
      await page.getByText('Votre connexion à Pro Santé Connect attend votre appairage.', { exact: false }).waitFor();
      assert.equal(await page.locator('#pairing-continue').count(), 0, 'no Continuer before pairing');
      assert.deepEqual(
        trousseauPages(shown.slice(mark)).map((u) => new URL(u).pathname),
        ['/pairing'],
        'Trousseau showed no login, step-up or consent page',
      );

      // Trousseau's pairing: e-CPS (CIBA) approved on the phone, then Continuer.
      await pairWithEcps(track, page, NURSE.idnat);
      const resume = page.locator('#pairing-continue');
      await resume.waitFor();
      assert.equal(await resume.innerText(), 'Continuer');
      await resume.click();

      // Back at PSC: its own pairing screen for the establishment account, a second approval.
      await page.getByRole('heading', { name: "Appairage de votre compte d'établissement" }).waitFor();
      assert.equal(new URL(page.url()).origin, sandbox.base);
      const account = (await page.locator('#account').innerText()).trim();
      assert.equal(account, user.username, 'the establishment account is shown');
      journey.account = account;
      await page.getByLabel('Identifiant national (IdNat)').fill(NURSE.idnat);
      await page.getByRole('button', { name: "Envoyer la demande à l'application e-CPS" }).click();
      await page.getByRole('heading', { name: "Validez l'appairage dans l'application e-CPS" }).waitFor();
      const code = (await page.locator('#binding').innerText()).trim();
      await approveOnPhone(track, NURSE.idnat, code);

      const claims = await serviceClaims(page, journey.serviceA, 'a', request);
      assertNurseClaims(claims, ['hwk', 'mfa']);
      assert.equal(claims.auth_time, journey.authTime, "Trousseau's auth_time");
      journey.pscSid = claims.sid;
    });

    step('3. a second national service: silent in PSC\'s session; later, PSC\'s confirmation screen only', async () => {
      const { page, shown } = journey;
      let request = await serviceRequest(journey.serviceB, 'b');
      let mark = shown.length;
      await page.goto(request.url.href);
      let claims = await serviceClaims(page, journey.serviceB, 'b', request);
      assert.equal(shown.length - mark, 1, `no page before the service's: ${shown.slice(mark)}`);
      assert.equal(claims.sid, journey.pscSid, "the same PSC session");
      assertNurseClaims(claims, ['hwk', 'mfa']);

      // Later, PSC's session is over: Trousseau answers at once (no page), PSC confirms.
      await pscSessionOver(page);
      request = await serviceRequest(journey.serviceB, 'b');
      mark = shown.length;
      await page.goto(request.url.href);
      await confirmAtPsc(page, journey.account);
      claims = await serviceClaims(page, journey.serviceB, 'b', request);
      assertNurseClaims(claims, ['hwk', 'mfa']);
      assert.notEqual(claims.sid, journey.pscSid, 'a new PSC session');
      assert.deepEqual(trousseauPages(shown.slice(mark)), [], 'no page of Trousseau');
      assert.ok(
        !shown.slice(mark).some((u) => new URL(u).pathname.startsWith('/wallet/broker/pair')),
        'no pairing screen at PSC',
      );
    });

    step('4. past the maximum authentication age, Trousseau asks for her key again', async () => {
      const { page, shown } = journey;
      const { server } = env;
      // A short maximum age for PSC's client (the smallest of the client's, the request's and
      // psc.federation.max_auth_age_secs wins), instead of waiting four hours.
      const maxAge = 3;
      await server.cli(['client', 'update', '--id', broker.client_id, '--max-auth-age', String(maxAge)]);
      try {
        const wait = (journey.authTime + maxAge + 1) * 1000 - Date.now();
        await sleep(Math.max(wait, 0) + 1200); // and the client cache (1 s)
        await pscSessionOver(page);
        const request = await serviceRequest(journey.serviceA, 'a');
        const mark = shown.length;
        await page.goto(request.url.href);
        await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/login', { waitUntil: 'load' });
        assert.equal(new URL(page.url()).searchParams.get('reason'), 'reauth');
        await page.getByRole('button', { name: KEY_LOGIN }).click();
        await confirmAtPsc(page, journey.account);
        const claims = await serviceClaims(page, journey.serviceA, 'a', request);
        assertNurseClaims(claims, ['hwk', 'mfa']);
        assert.ok(claims.auth_time > journey.authTime, 'a new authentication');
        assert.deepEqual(
          trousseauPages(shown.slice(mark)).map((u) => new URL(u).pathname),
          ['/login'],
        );
      } finally {
        await server.cli(['client', 'update', '--id', broker.client_id, '--max-auth-age', '0']);
        await sleep(1200); // the client cache
      }
    });

    step('5. a password-only session: Trousseau demands her key (step-up)', async (track) => {
      const { server } = env;
      const { user } = journey;
      // Another workstation, with a key of its own.
      const page = await newPage(track);
      journey.pages.push(page);
      await plugKey(page);
      await enrolKey(page, server, user, 'Clé du poste 2');
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
      const dpiClaims = await dpiSignIn(page, (p) => submitLogin(p, user.username, user.password));
      assert.deepEqual(dpiClaims.amr, ['pwd'], 'the DPI takes a password');
      journey.dpiSid2 = dpiClaims.sid;

      const request = await serviceRequest(journey.serviceA, 'a');
      await page.goto(request.url.href);
      await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/login', { waitUntil: 'load' });
      assert.equal(new URL(page.url()).searchParams.get('reason'), 'stepup');
      assert.equal(await page.locator('#password').count(), 0, 'not a new login: the same session');
      await page.getByRole('button', { name: 'Utiliser ma clé de sécurité' }).click();
      await confirmAtPsc(page, journey.account);
      const claims = await serviceClaims(page, journey.serviceA, 'a', request);
      assertNurseClaims(claims, ['pwd', 'hwk', 'mfa']);
      await page.context().close();
      journey.pages.pop();
    });

    step('6. a revoked pairing: her sessions end, and Trousseau shows its pairing page again', async (track) => {
      const { page, user } = journey;
      const { server, rp } = env;
      const { stdout } = await server.cli(['pairing', 'show', user.username, '--json']);
      const active = JSON.parse(stdout).pairings.filter((p) => p.status === 'active');
      assert.equal(active.length, 1, stdout);
      const { stdout: out } = await server.cli(['pairing', 'revoke', active[0].id, '--reason', 'badge perdu']);
      assert.equal(JSON.parse(out.trim().split('\n').pop()).sessions_ended, 2, out);

      // Both sessions had signed in to the DPI: it is told, with Trousseau's signed tokens.
      const dpiLogout = {
        issuer: env.issuer,
        jwksUri: journey.dpi.serverMetadata().jwks_uri,
        audience: journey.dpiId,
      };
      for (const sid of [journey.dpiSid, journey.dpiSid2]) {
        const claims = await logoutTokenFor(rp, '/backchannel', sid, dpiLogout);
        assert.equal(claims.sub, user.id);
      }

      // PSC's session went with them: the service goes to Trousseau, which asks for her key,
      // then for a pairing.
      const request = await serviceRequest(journey.serviceA, 'a');
      await page.goto(request.url.href);
      await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/login', { waitUntil: 'load' });
      await page.getByRole('button', { name: KEY_LOGIN }).click();
      await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/pairing', { waitUntil: 'load' });
      await page.getByText('Votre connexion à Pro Santé Connect attend votre appairage.', { exact: false }).waitFor();
      assert.equal(await page.locator('#pairing-continue').count(), 0, 'no Continuer on a revoked pairing');

      // She pairs again; PSC still knows her account: its confirmation only.
      await pairWithEcps(track, page, NURSE.idnat);
      await page.locator('#pairing-continue').click();
      await confirmAtPsc(page, journey.account);
      const claims = await serviceClaims(page, journey.serviceA, 'a', request);
      assertNurseClaims(claims, ['hwk', 'mfa']);
    });

    step('7. a session opened with e-CPS is never presented to PSC', async (track) => {
      const { server } = env;
      const page = await newPage(track);
      journey.pages.push(page);
      const dpiClaims = await dpiSignIn(page, async (p) => {
        await p.getByRole('link', { name: 'Se connecter avec e-CPS' }).click();
        await p.getByRole('heading', { name: 'Connexion à Pro Santé Connect' }).waitFor();
        await p.getByLabel('Identifiant national (IdNat)').fill(NURSE.idnat);
        await p.getByRole('button', { name: 'Continuer' }).click();
        const code = (await p.locator('#binding').innerText()).trim();
        await approveOnPhone(track, NURSE.idnat, code);
      });
      assert.equal(dpiClaims.sub, journey.user.id, 'the e-CPS login found her account');

      // PSC's own session from that login set aside, the service asks for the establishment's
      // Trousseau, which refuses to vouch for a login PSC itself proved.
      await pscSessionOver(page);
      const request = await serviceRequest(journey.serviceA, 'a');
      await page.goto(request.url.href);
      const refused = page.locator('[data-reason="idp_error"]');
      await refused.waitFor();
      assert.equal(new URL(page.url()).origin, sandbox.base);
      assert.equal(await refused.innerText(), 'Votre établissement a refusé la connexion.');
      await page.getByRole('link', { name: 'Retourner au service' }).click();
      const back = await waitForRp(page, services, '/a/cb');
      assert.equal(back.searchParams.get('error'), 'access_denied');
      assert.equal(back.searchParams.get('code'), null);
      const { stdout } = await server.cli([
        'audit', 'list', '--kind', 'authorization_refused', '--client', broker.client_id, '--json',
      ]);
      const reasons = JSON.parse(stdout).map((e) => e.reason);
      assert.deepEqual(reasons, ['psc_origin_session'], stdout);
      await page.context().close();
      journey.pages.pop();
    });

    step('8. logging out at Trousseau ends PSC\'s session and reaches the DPI', async () => {
      const { page, shown } = journey;
      const { rp } = env;
      // The DPI, then a national service, in this session (both silent).
      const dpiSid = (await dpiSignIn(page)).sid;
      let request = await serviceRequest(journey.serviceB, 'b');
      await page.goto(request.url.href);
      const pscClaims = await serviceClaims(page, journey.serviceB, 'b', request);

      await page.goto(`${env.issuer}/logout`);
      await page.getByRole('button', { name: 'Se déconnecter' }).click();
      await page.getByRole('heading', { name: 'Vous êtes déconnecté' }).waitFor();

      // The DPI's back-channel logout, signed by Trousseau.
      const claims = await logoutTokenFor(rp, '/backchannel', dpiSid, {
        issuer: env.issuer,
        jwksUri: journey.dpi.serverMetadata().jwks_uri,
        audience: journey.dpiId,
      });
      assert.equal(claims.sub, journey.user.id);
      // PSC ended its session and told the service that used it, with its own signed token.
      await logoutTokenFor(services, '/b/backchannel', pscClaims.sid, {
        issuer: sandbox.issuer,
        jwksUri: journey.serviceB.serverMetadata().jwks_uri,
        audience: 'service-b',
      });

      // The national service's next visit is not silent: Trousseau asks her to sign in.
      request = await serviceRequest(journey.serviceA, 'a');
      const mark = shown.length;
      await page.goto(request.url.href);
      await page.waitForURL((u) => u.origin === env.issuer && u.pathname === '/login', { waitUntil: 'load' });
      await page.getByRole('button', { name: KEY_LOGIN }).waitFor();
      assert.ok(!shown.slice(mark).some((u) => services.isAt(u, '/a/cb')), 'nothing reached the service');
    });
  });

  test('openid-client as PSC\'s broker validates Trousseau\'s ID token and its federation claims', { timeout: 60_000 }, (t) =>
    withDiagnostics(env, async (_t, track) => {
      const { server, rp } = env;
      const user = await server.createUser({ givenName: 'Paul', familyName: 'Durand' });
      await server.cli(['user', 'link-rpps', user.username, OTHER.idnat]);
      const page = await newPage(track);
      await plugKey(page);
      await enrolKey(page, server, user, 'Clé de Paul');
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });
      await page.goto(`${env.issuer}/pairing`);
      await page.getByRole('button', { name: KEY_LOGIN }).click();
      await page.waitForURL((u) => u.pathname === '/pairing', { waitUntil: 'load' });
      await pairWithEcps(track, page, OTHER.idnat);

      const client = await server.createClient({
        name: 'Pro Santé Connect (courtier de test)',
        pscBroker: true,
        redirectUri: rp.redirectUri,
        grants: ['authorization_code'],
        scopes: ['openid', 'profile', 'email'],
      });
      const config = await rpConfig(env.issuer, client.client_id, client.client_secret);
      const request = await authorizationRequest(config, rp.redirectUri, { scope: 'openid profile email' });
      assert.equal(request.url.searchParams.get('code_challenge_method'), 'S256');
      const before = Math.floor(Date.now() / 1000);
      await page.goto(request.url.href);
      const callback = await waitForRp(page, rp);
      // PKCE, state, nonce, iss, aud, exp, the signature against Trousseau's JWKS.
      const tokens = await exchangeCode(config, callback, request);
      const c = tokens.claims();
      assert.equal(c.iss, env.issuer);
      assert.equal(c.aud, client.client_id);
      assert.equal(c.sub, user.id);
      assert.equal(c.oid, user.id, 'oid: the immutable identity id');
      assert.equal(c.tid, TID);
      assert.equal(c.acr, 'loa3');
      assert.deepEqual(c.amr, ['hwk', 'user', 'mfa']);
      for (const v of c.amr) assert.ok(RFC8176_AMR.has(v), `${v} is an RFC 8176 value`);
      assert.equal(typeof c.auth_time, 'number');
      assert.ok(c.auth_time <= before && before - c.auth_time < 120, `auth_time ${c.auth_time}`);
      assert.equal(c.nonce, request.nonce);
      assert.equal(c.given_name, 'Paul');
      assert.equal(c.family_name, 'Durand');
      assert.equal(c.name, 'Paul Durand');
      assert.equal(c.preferred_username, user.username);
      assert.equal(c.email, user.email);
      assert.ok(c.sid, 'sid');
    })(t),
  );
});
