// Test harness for Trousseau's real-browser tests.
//
// Starts a real Trousseau server (the binary in $TROUSSEAU_BIN) on loopback with its own
// temporary directory, runs its CLI against the same database, launches Debian's Chromium
// through playwright-core, runs a tiny relying-party callback server, and configures
// openid-client (a certified relying party) against Trousseau's discovery document.
//
// Everything listens on 127.0.0.1 only. Nothing here downloads anything.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';
import * as oidc from 'openid-client';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

/** Path of axe-core's browser bundle, injected into pages for the accessibility checks. */
export const AXE_PATH = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');

/** Flags that make Chromium quiet and self-contained on a machine without outside network. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const READY_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 30_000;

/** A short random suffix, so that names never collide across test files sharing a database. */
export function uniq(prefix) {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

function trousseauBin() {
  const bin = process.env.TROUSSEAU_BIN;
  if (bin) return path.resolve(process.cwd(), bin);
  return path.join(REPO_ROOT, 'target', 'debug', 'trousseau');
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Keeps the last `max` characters written to it (server output for diagnostics). */
class Tail {
  constructor(max = 8000) {
    this.max = max;
    this.text = '';
  }
  push(chunk) {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * Starts Trousseau on a free loopback port with a fresh temporary directory.
 *
 * The database is a SQLite file in that directory, or the PostgreSQL database named by
 * $BROWSER_TEST_DATABASE_URL. Several test files may share that PostgreSQL database one after
 * the other: they then share one master key file too (signing keys stored in the database are
 * encrypted with it): $BROWSER_TEST_MASTER_KEY_FILE, or a file in a temporary directory named
 * after the database URL.
 */
export async function startTrousseau(options = {}) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trousseau-browser-'));
  const pgUrl = process.env.BROWSER_TEST_DATABASE_URL;
  let databaseUrl;
  let masterKeyFile;
  if (pgUrl) {
    databaseUrl = pgUrl;
    if (process.env.BROWSER_TEST_MASTER_KEY_FILE) {
      masterKeyFile = path.resolve(process.env.BROWSER_TEST_MASTER_KEY_FILE);
      mkdirSync(path.dirname(masterKeyFile), { recursive: true, mode: 0o700 });
    } else {
      const keyDir = path.join(
        os.tmpdir(),
        `trousseau-browser-key-${createHash('sha256').update(pgUrl).digest('hex').slice(0, 16)}`,
      );
      mkdirSync(keyDir, { recursive: true, mode: 0o700 });
      masterKeyFile = path.join(keyDir, 'master.key');
    }
  } else {
    databaseUrl = `sqlite://${dir}/trousseau.db`;
    masterKeyFile = path.join(dir, 'master.key');
  }
  const issuer = `http://localhost:${port}`;
  const env = {
    ...process.env,
    NO_COLOR: '1',
    TROUSSEAU__HTTP__BIND: `127.0.0.1:${port}`,
    TROUSSEAU__HTTP__PUBLIC_URL: issuer,
    TROUSSEAU__DATABASE__URL: databaseUrl,
    TROUSSEAU__SECRETS__MASTER_KEY_FILE: masterKeyFile,
    ...(options.env ?? {}),
  };
  const bin = trousseauBin();
  const logFile = path.join(dir, 'server.log');
  const log = createWriteStream(logFile);
  const tail = new Tail();

  // An optional configuration file layered over the defaults (the CLI gets it too).
  const configArgs = [];
  if (options.configToml) {
    const configFile = path.join(dir, 'trousseau.toml');
    writeFileSync(configFile, options.configToml);
    configArgs.push('--config', configFile);
  }
  const child = spawn(bin, [...configArgs, 'serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { error: err };
      running.delete(child);
      resolve(exited);
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      log.write(chunk);
      tail.push(chunk);
      if (process.env.BROWSER_TEST_VERBOSE) process.stderr.write(chunk);
    });
  }

  const server = {
    port,
    issuer,
    dir,
    env,
    bin,
    logFile,
    /** The last lines the server printed, for error messages. */
    logTail: () => tail.text,
    /** Runs a `trousseau` CLI command against the same configuration and database. */
    cli: (args, stdin) => runCli(bin, [...configArgs, ...args], env, dir, stdin),
    createUser: (opts) => createUser(server, opts),
    createClient: (opts) => createClient(server, opts),
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        let timer;
        const done = await Promise.race([
          exitPromise,
          new Promise((resolve) => {
            timer = setTimeout(() => resolve(null), 5000);
          }),
        ]);
        clearTimeout(timer);
        if (!done) {
          child.kill('SIGKILL');
          await exitPromise;
        }
      }
      log.end();
      if (!process.env.BROWSER_TEST_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = 'no answer yet';
  for (;;) {
    if (exited) {
      await server.stop().catch(() => {});
      throw new Error(
        `Trousseau (${bin} serve) exited before it was ready: ${JSON.stringify(exited)}\n` +
          `--- server output ---\n${tail.text}`,
      );
    }
    try {
      const res = await fetch(`${issuer}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      lastError = `GET /readyz answered ${res.status}`;
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    if (Date.now() > deadline) {
      await server.stop().catch(() => {});
      throw new Error(
        `Trousseau did not answer 200 on ${issuer}/readyz within ${READY_TIMEOUT_MS} ms ` +
          `(last: ${lastError})\n--- server output ---\n${tail.text}`,
      );
    }
    await sleep(100);
  }
  return server;
}

function runCli(bin, args, env, cwd, stdin) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        resolve({ stdout, stderr });
      } else {
        reject(
          new Error(
            `trousseau ${args.join(' ')} failed (exit ${code ?? signal})\n` +
              `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
          ),
        );
      }
    });
    child.stdin.on('error', () => {}); // the command may exit without reading its input
    if (stdin !== undefined) child.stdin.write(stdin);
    child.stdin.end();
  });
}

/** The one JSON object a CLI command prints (the last line of stdout that parses as one). */
function parseJsonOutput(stdout, what) {
  const trimmed = stdout.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    // fall through: look for the last line that is a JSON object
  }
  const lines = trimmed.split('\n').reverse();
  for (const line of lines) {
    const l = line.trim();
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l);
    } catch {
      // not this one
    }
  }
  throw new Error(`${what}: expected one JSON object on stdout, got:\n${stdout}`);
}

/**
 * Creates a user with a password through the CLI. Returns `{ id, username, password, ... }`.
 */
async function createUser(server, opts = {}) {
  const username = opts.username ?? uniq('user');
  const password = opts.password ?? `Mdp-${randomBytes(9).toString('base64url')}!`;
  const given = opts.givenName ?? 'Camille';
  const family = opts.familyName ?? 'Durand';
  const email = opts.email ?? `${username}@chu.example`;
  const { stdout } = await server.cli(
    [
      'user', 'create',
      '--username', username,
      '--given-name', given,
      '--family-name', family,
      '--email', email,
      '--password-stdin',
    ],
    `${password}\n`,
  );
  const out = parseJsonOutput(stdout, 'user create');
  if (!out.id || out.username !== username) {
    throw new Error(`user create printed an unexpected object: ${stdout}`);
  }
  return { ...out, username, password, givenName: given, familyName: family, email };
}

/**
 * Registers a client through the CLI. Returns the printed object (`client_id`, and
 * `client_secret` for a confidential client) plus the options it was created with.
 */
async function createClient(server, opts) {
  const id = opts.id ?? uniq('rp');
  const args = ['client', 'create', '--id', id, '--name', opts.name ?? `Application ${id}`];
  for (const uri of [].concat(opts.redirectUris ?? opts.redirectUri)) {
    args.push('--redirect-uri', uri);
  }
  for (const uri of [].concat(opts.postLogoutRedirectUris ?? opts.postLogoutRedirectUri ?? [])) {
    args.push('--post-logout-redirect-uri', uri);
  }
  if (opts.public) args.push('--public');
  if (opts.firstParty) args.push('--first-party');
  if (opts.backchannelLogoutUri) args.push('--backchannel-logout-uri', opts.backchannelLogoutUri);
  if (opts.signingAlg) args.push('--signing-alg', opts.signingAlg);
  if (opts.minAcr) args.push('--min-acr', opts.minAcr);
  if (opts.maxAuthAge !== undefined) args.push('--max-auth-age', String(opts.maxAuthAge));
  if (opts.pscBroker) args.push('--psc-broker');
  for (const s of opts.scopes ?? []) args.push('--scope', s);
  for (const g of opts.grants ?? []) args.push('--grant', g);
  const { stdout } = await server.cli(args);
  const out = parseJsonOutput(stdout, 'client create');
  if (out.client_id !== id) {
    throw new Error(`client create printed an unexpected object: ${stdout}`);
  }
  if (!opts.public && !out.client_secret) {
    throw new Error(`client create printed no client_secret for a confidential client: ${stdout}`);
  }
  return { ...out, options: opts };
}

/**
 * A tiny relying-party web server on 127.0.0.1: every request is recorded (method, path, query
 * and, for a POST, its form fields: a back-channel logout token arrives that way) and answered
 * with a small HTML page (a POST with 200 and no body). Its redirect URI is
 * http://localhost:PORT/cb.
 */
export async function startRp() {
  const port = await freePort();
  const requests = [];
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, `http://localhost:${port}`);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({
        method: req.method,
        path: url.pathname,
        query: url.search,
        params: Object.fromEntries(url.searchParams),
        form: req.method === 'POST' ? Object.fromEntries(new URLSearchParams(body)) : {},
      });
      if (req.method === 'POST') {
        res.writeHead(200, { 'cache-control': 'no-store', connection: 'close' });
        res.end();
        return;
      }
      const page =
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Application test</title></head>' +
        `<body><main><h1>Application test</h1><p>Reçu : ${escapeHtml(url.pathname)}</p></main></body></html>`;
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'close',
      });
      res.end(page);
    });
  });
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
  const origin = `http://localhost:${port}`;
  return {
    port,
    origin,
    redirectUri: `${origin}/cb`,
    postLogoutUri: `${origin}/logged-out`,
    requests,
    /** Whether a URL (string or URL) is this RP's page at `pathname`. */
    isAt(url, pathname) {
      const u = new URL(url);
      return u.origin === origin && u.pathname === pathname;
    },
    /** The POSTs received at `pathname` so far. */
    posts: (pathname) => requests.filter((r) => r.method === 'POST' && r.path === pathname),
    stop: () =>
      new Promise((resolve) => {
        srv.closeAllConnections?.();
        srv.close(() => resolve());
      }),
  };
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Launches Debian's Chromium headless (never a downloaded browser). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * A new browser context (its own cookies), French by default, with a 10 s default timeout so
 * that a page that never comes fails fast.
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ locale: 'fr-FR', ...options });
  context.setDefaultTimeout(10_000);
  return context;
}

/**
 * openid-client configuration for a client of Trousseau, from Trousseau's discovery document.
 * http:// is allowed (loopback tests). The client authenticates with client_secret_basic when
 * the server offers it (the OpenID Connect default), else client_secret_post; public clients
 * use none. ID token signatures are checked against the JWKS (non-repudiation checks).
 */
export async function rpConfig(issuer, clientId, clientSecret) {
  const discovered = await oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [oidc.allowInsecureRequests],
  });
  const metadata = discovered.serverMetadata();
  let auth;
  if (!clientSecret) {
    auth = oidc.None();
  } else if ((metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic']).includes('client_secret_basic')) {
    auth = oidc.ClientSecretBasic(clientSecret);
  } else {
    auth = oidc.ClientSecretPost(clientSecret);
  }
  const config = new oidc.Configuration(metadata, clientId, clientSecret, auth);
  oidc.allowInsecureRequests(config);
  oidc.enableNonRepudiationChecks(config);
  return config;
}

/**
 * A fresh authorization request with PKCE S256, nonce and state. Returns the URL and the
 * values the client must remember to check the response.
 */
export async function authorizationRequest(config, redirectUri, extra = {}) {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const codeChallenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
  const nonce = oidc.randomNonce();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    response_type: 'code',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    nonce,
    state,
    ...extra,
  });
  return { url, codeVerifier, nonce, state };
}

/** Exchanges the code found in `callbackUrl` with all the checks of the request. */
export async function exchangeCode(config, callbackUrl, request) {
  return oidc.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: request.codeVerifier,
    expectedNonce: request.nonce,
    expectedState: request.state,
  });
}

/** Fills Trousseau's password login form and submits it. */
export async function submitLogin(page, username, password) {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.locator('form:has(#password) [type=submit]').first().click(),
  ]);
}

/**
 * The whole password sign-in as a person does it: the browser opens a fresh authorization
 * request (PKCE S256, nonce, state), sees the login page, signs in and lands on the RP's
 * callback; the RP then exchanges the code. `extra` adds authorization request parameters.
 */
export async function signIn(page, config, rp, user, extra = {}) {
  const request = await authorizationRequest(config, rp.redirectUri, extra);
  await page.goto(request.url.href);
  await page.locator('#username').waitFor({ timeout: 10_000 });
  await submitLogin(page, user.username, user.password);
  const callback = await waitForRp(page, rp);
  const tokens = await exchangeCode(config, callback, request);
  return { request, callback, tokens, claims: tokens.claims() };
}

/**
 * A security key plugged into `page`: Chromium's virtual authenticator (CTAP2, USB, resident
 * keys) over the DevTools protocol; its PIN is checked unless `uv` is false.
 */
export async function plugKey(page, { uv = true } = {}) {
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

/**
 * Fills the enrolment page (`/keys/enrol`) for `user` with a code printed by `trousseau user
 * enrolment-code` and submits it; the caller waits for the outcome it expects.
 */
export async function enrolKey(page, server, user, name = 'Clé bleue') {
  const { stdout } = await server.cli(['user', 'enrolment-code', user.username, '--checked-by', 'Accueil', '--document', 'id_card', '--json']);
  const { code } = JSON.parse(stdout.trim());
  await page.goto(`${server.issuer}/keys/enrol`);
  await page.getByLabel('Identifiant').fill(user.username);
  await page.getByLabel("Code d'enrôlement").fill(code);
  await page.getByLabel('Nom de la clé').fill(name);
  await page.getByRole('button', { name: 'Enregistrer ma clé' }).click();
}

/** Waits until the page shows the relying party's page at `pathname`. */
export async function waitForRp(page, rp, pathname = '/cb', timeout = 10_000) {
  await page.waitForURL((u) => rp.isAt(u, pathname), { timeout, waitUntil: 'load' });
  return new URL(page.url());
}

/**
 * Everything one test file needs: a Trousseau server, an RP callback server and a browser.
 * `diagnose(error, pages)` adds the server output and what the pages showed to an error.
 */
export async function setup(options = {}) {
  const server = await startTrousseau(options);
  let rp;
  let browser;
  try {
    rp = await startRp();
    browser = await launchBrowser();
  } catch (err) {
    await rp?.stop();
    await server.stop();
    throw err;
  }
  const env = {
    server,
    rp,
    browser,
    issuer: server.issuer,
    async teardown() {
      await browser.close().catch(() => {});
      await rp.stop();
      await server.stop();
    },
  };
  return env;
}

/**
 * Wraps a test body: on failure, the error message gets what each open page shows (URL and
 * text) and the tail of the server's output, and a screenshot per page is written next to the
 * server log (kept when BROWSER_TEST_KEEP=1).
 */
export function withDiagnostics(env, body) {
  return async (t) => {
    const pages = [];
    const track = (page) => {
      pages.push(page);
      return page;
    };
    try {
      await body(t, track);
    } catch (err) {
      let extra = '';
      for (const [i, page] of pages.entries()) {
        if (page.isClosed()) continue;
        try {
          const text = await page.locator('body').innerText({ timeout: 1000 });
          extra += `\n--- page ${i}: ${page.url()} ---\n${text.slice(0, 1500)}`;
          const shot = path.join(env.server.dir, `failure-${uniq('page')}.png`);
          await page.screenshot({ path: shot, fullPage: true, timeout: 3000 });
          extra += `\n(screenshot: ${shot}${process.env.BROWSER_TEST_KEEP ? '' : ', deleted at teardown unless BROWSER_TEST_KEEP=1'})`;
        } catch {
          extra += `\n--- page ${i}: ${page.url()} (content unavailable) ---`;
        }
      }
      extra += `\n--- Trousseau output (tail) ---\n${env.server.logTail()}`;
      if (err instanceof Error) {
        // The runner prints the stack, which already holds the original message.
        // (V8 formats the stack lazily: read it before changing the message.)
        const original = err.message;
        const stack = err.stack;
        err.message += extra;
        if (original && typeof stack === 'string' && stack.includes(original)) {
          err.stack = stack.replace(original, () => err.message);
        }
        throw err;
      }
      throw new Error(`${String(err)}${extra}`);
    }
  };
}

export { oidc };

// ---------------------------------------------------------------------------------------------
// Accessibility (axe-core)
// ---------------------------------------------------------------------------------------------

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const BLOCKING = new Set(['serious', 'critical']);

/**
 * Runs axe-core on the page and fails on serious or critical violations. axe is injected as a
 * script tag: Trousseau's CSP (script-src 'self') refuses it, so the contexts used here bypass
 * CSP. The CSP itself is checked, without bypass, in security-headers.test.mjs.
 */
export async function assertAccessible(page, label) {
  await page.waitForLoadState('load');
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ path: AXE_PATH });
  }
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    WCAG_TAGS,
  );
  const blocking = results.violations.filter((v) => BLOCKING.has(v.impact));
  const report = blocking
    .map(
      (v) =>
        `  - ${v.id} (${v.impact}): ${v.help}\n` +
        v.nodes
          .slice(0, 5)
          .map((n) => `      at ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ') ?? ''}`)
          .join('\n'),
    )
    .join('\n');
  assert.equal(blocking.length, 0, `${label} (${page.url()}) has accessibility violations:\n${report}`);
}


// ---------------------------------------------------------------------------------------------
// The Pro Santé Connect sandbox (docs/psc-sandbox.md)
// ---------------------------------------------------------------------------------------------

/** The header of an RPPS extraction in its current 56-column layout (rpps.md). */
const RPPS_HEADER_56 = [
  "Type d'identifiant PP", 'Identifiant PP', 'Identification nationale PP',
  "Code civilité d'exercice", "Libellé civilité d'exercice", 'Code civilité', 'Libellé civilité',
  "Nom d'exercice", "Prénom d'exercice", 'Code profession', 'Libellé profession',
  'Code catégorie professionnelle', 'Libellé catégorie professionnelle',
  'Code type savoir-faire', 'Libellé type savoir-faire', 'Code savoir-faire', 'Libellé savoir-faire',
  'Code mode exercice', 'Libellé mode exercice', 'Numéro SIRET site', 'Numéro SIREN site',
  'Numéro FINESS site', 'Numéro FINESS établissement juridique',
  'Identifiant technique de la structure', 'Raison sociale site', 'Enseigne commerciale site',
  'Complément destinataire (coord. structure)', 'Complément point géographique (coord. structure)',
  'Numéro Voie (coord. structure)', 'Indice répétition voie (coord. structure)',
  'Code type de voie (coord. structure)', 'Libellé type de voie (coord. structure)',
  'Libellé Voie (coord. structure)', 'Mention distribution (coord. structure)',
  'Bureau cedex (coord. structure)', 'Code postal (coord. structure)',
  'Code commune (coord. structure)', 'Libellé commune (coord. structure)',
  'Code pays (coord. structure)', 'Libellé pays (coord. structure)',
  'Téléphone (coord. structure)', 'Téléphone 2 (coord. structure)', 'Télécopie (coord. structure)',
  'Adresse e-mail (coord. structure)', 'Code Département (structure)',
  'Libellé Département (structure)', 'Ancien identifiant de la structure',
  "Autorité d'enregistrement", 'Code secteur d\'activité', 'Libellé secteur d\'activité',
  'Code section tableau pharmaciens', 'Libellé section tableau pharmaciens', 'Code rôle',
  'Libellé rôle', 'Code genre activité', 'Libellé genre activité',
];

/** A random IdNat of an RPPS number (8 + 11 digits), unique enough per run. */
export function randomIdNat() {
  return `810${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

/**
 * One line of an RPPS extraction for a hospital professional, a physician unless `nurse`:
 * `idnat` is 8 + the 11-digit RPPS number.
 */
export function rppsLine({ idnat, familyName = 'MARTIN', givenName = 'CLAIRE', nurse = false }) {
  const fields = new Array(56).fill('');
  Object.assign(fields, {
    0: '8', 1: idnat.slice(1), 2: idnat, 5: 'MME', 7: familyName, 8: givenName,
    11: 'C', 17: 'S', 21: '750712184', 22: '750712176', 23: 'F750712184',
    24: 'CHU DE TEST SITE NORD', 35: '75013', 48: 'SA01',
  });
  if (nurse) {
    Object.assign(fields, { 9: '60', 10: 'Infirmier' });
  } else {
    Object.assign(fields, { 3: 'DR', 9: '10', 10: 'Médecin', 13: 'S', 15: 'SM54' });
  }
  return `${fields.join('|')}|`;
}

/** An RPPS extraction holding these professionals (see [`rppsLine`]). */
export function rppsFile(professionals) {
  return `${RPPS_HEADER_56.join('|')}|\n${professionals.map(rppsLine).join('\n')}\n`;
}

/** The PSC sandbox binary: $PSC_SANDBOX_BIN, else beside Trousseau's binary. */
function sandboxBin() {
  const bin = process.env.PSC_SANDBOX_BIN;
  if (bin) return path.resolve(process.cwd(), bin);
  return path.join(path.dirname(trousseauBin()), 'trousseau-psc-sandbox');
}

/** The client Trousseau is at the sandbox (a sandbox-only secret). */
export const SANDBOX_CLIENT_ID = 'trousseau';
export const SANDBOX_CLIENT_SECRET = 'sandbox-secret-for-browser-tests';

/** The PSC issuer of a sandbox listening on 127.0.0.1:`port`. */
export function pscSandboxIssuer(port) {
  return `http://127.0.0.1:${port}/auth/realms/esante-wallet`;
}

/**
 * The `[psc]` section of a Trousseau configuration pointing at the sandbox whose issuer is
 * `issuer` (the secret goes through `PSC_SANDBOX_TROUSSEAU_ENV`).
 */
export function pscToml(issuer) {
  return `[psc]\nenabled = true\nenvironment = "local"\nissuer = "${issuer}"\nclient_id = "${SANDBOX_CLIENT_ID}"\n`;
}

/** The environment that gives Trousseau its client secret at the sandbox. */
export const PSC_SANDBOX_TROUSSEAU_ENV = { TROUSSEAU__PSC__CLIENT_SECRET: SANDBOX_CLIENT_SECRET };

/**
 * Starts `trousseau-psc-sandbox` on loopback with a temporary configuration, an in-memory
 * state and an RPPS file of `professionals` (`[{ idnat, familyName, givenName, nurse }]`).
 * Options: `port` (else a free one), `redirectUri` (Trousseau's `/psc/callback`),
 * `cibaExpiresIn`, `cibaInterval`, and `extraToml` appended to the file (more `[[clients]]`,
 * `[[brokers]]`). Returns `{ base, issuer, stop() }`; `trousseauToml()` is the `[psc]`
 * section that points Trousseau at it (the secret goes through `trousseauEnv`).
 */
export async function startPscSandbox(options = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'trousseau-psc-sandbox-'));
  writeFileSync(path.join(dir, 'rpps.txt'), rppsFile(options.professionals ?? []));
  const redirect = options.redirectUri ?? 'http://127.0.0.1:9/psc/callback';
  writeFileSync(
    path.join(dir, 'sandbox.toml'),
    [
      'professionals_file = "rpps.txt"',
      `ciba_expires_in = ${options.cibaExpiresIn ?? 30}`,
      `ciba_interval = ${options.cibaInterval ?? 1}`,
      '[[clients]]',
      `client_id = "${SANDBOX_CLIENT_ID}"`,
      `secret = "${SANDBOX_CLIENT_SECRET}"`,
      `redirect_uris = [${JSON.stringify(redirect)}]`,
      options.extraToml ?? '',
      '',
    ].join('\n'),
  );
  const bin = sandboxBin();
  const tail = new Tail();
  const bind = `127.0.0.1:${options.port ?? 0}`;
  const child = spawn(bin, ['--config', path.join(dir, 'sandbox.toml'), '--bind', bind], {
    cwd: dir,
    env: { ...process.env, RUST_LOG: process.env.BROWSER_TEST_VERBOSE ? 'info' : 'warn', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (error) => {
      running.delete(child);
      resolve({ error });
    });
  });
  child.stderr.on('data', (c) => {
    tail.push(c);
    if (process.env.BROWSER_TEST_VERBOSE) process.stderr.write(c);
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`the PSC sandbox (${bin}) did not say where it listens within ${READY_TIMEOUT_MS} ms\n${tail.text}`)),
      READY_TIMEOUT_MS,
    );
    child.stdout.on('data', (c) => {
      out += c;
      const m = /^listening on (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    exitPromise.then((how) => {
      clearTimeout(timer);
      reject(new Error(`the PSC sandbox (${bin}) exited before listening: ${JSON.stringify(how)}\n${tail.text}`));
    });
  });
  const issuer = `${base}/auth/realms/esante-wallet`;
  return {
    base,
    issuer,
    /** The `[psc]` section of a Trousseau configuration pointing at this sandbox. */
    trousseauToml: () => pscToml(issuer),
    /** The environment that gives Trousseau the client secret. */
    trousseauEnv: PSC_SANDBOX_TROUSSEAU_ENV,
    logTail: () => tail.text,
    async stop() {
      child.kill('SIGTERM');
      let timer;
      const done = await Promise.race([
        exitPromise,
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(null), 5000);
        }),
      ]);
      clearTimeout(timer);
      if (!done) {
        child.kill('SIGKILL');
        await exitPromise;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The e-CPS "phone": the sandbox's `/ecps` page for `idnat`, opened in `page` (a browser
 * context of its own).
 */
export async function ecpsPhone(page, sandbox, idnat) {
  await page.goto(`${sandbox.base}/ecps`);
  await page.getByLabel('Identifiant national (IdNat)').fill(idnat);
  await page.getByRole('button', { name: 'Afficher' }).click();
  await page.getByRole('heading', { name: new RegExp(`Demandes pour .*\\(${idnat}\\)`) }).waitFor();
  return page;
}

/**
 * On the phone: waits for the one pending request showing `code`, then presses `button`
 * (Approuver or Refuser) and waits for the phone to say it is done.
 */
export async function decideOnPhone(phonePage, code, button) {
  const row = phonePage.locator('tr.request', {
    has: phonePage.locator('td.code', { hasText: new RegExp(`^${code}$`) }),
  });
  await row.waitFor({ timeout: 10_000 });
  const pending = await phonePage.locator('tr.request').count();
  if (pending !== 1) throw new Error(`${pending} pending requests on the phone, expected one`);
  await row.getByRole('button', { name: button }).click();
  await phonePage.getByRole('status').waitFor();
}
