// `trousseau demo` walked in real Chromium, as its printed walk-through says: a security key
// enrolled with the printed code (virtual authenticator), the demo DPI signed in with it, then
// the demo national service "DMP (démonstration)", a client of the PSC sandbox: the sandbox's
// broker sends the browser to Trousseau, which asks for the pairing with e-CPS (the sandbox's
// phone page approves), then the sandbox's own pairing screen (a second approval), then the
// DMP's welcome. Opened again: no prompt; after a logout from PSC: the confirmation screen.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { REPO_ROOT, freePort, launchBrowser, newContext } from './harness.mjs';

const IDNAT = '810001045367';
const OPEN_DMP = 'Ouvrir le DMP avec Pro Santé Connect';
const WELCOME = 'Bienvenue dans le DMP (démonstration)';

function trousseauBin() {
  const bin = process.env.TROUSSEAU_BIN;
  return bin ? path.resolve(process.cwd(), bin) : path.join(REPO_ROOT, 'target', 'debug', 'trousseau');
}

/** Whether `port` on 127.0.0.1 is free now. */
function isFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port whose sandbox port (plus ten) is free too. */
async function demoPort() {
  for (let i = 0; i < 20; i += 1) {
    const port = await freePort();
    if (port + 10 < 65536 && (await isFree(port + 10))) return port;
  }
  throw new Error('no free pair of ports for the demo');
}

/** Starts `trousseau demo` on a free port; resolves once it has printed its walk-through. */
function startDemo(port) {
  const child = spawn(trousseauBin(), ['demo', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (c) => {
    err = (err + c.toString()).slice(-8000);
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start in time:\n${out}\n${err}`)), 30_000);
    child.stdout.on('data', (c) => {
      out += c.toString();
      if (out.includes('Ctrl+C')) {
        clearTimeout(timer);
        resolve(out);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo stopped (${code}):\n${out}\n${err}`));
    });
  });
  return { child, ready, stderr: () => err };
}

/** A security key plugged into `page` (CTAP2, resident keys, user verification). */
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

// The demo always runs on its own temporary SQLite database: once is enough (not again in the
// PostgreSQL leg).
const skip = process.env.BROWSER_TEST_DATABASE_URL ? 'the demo uses its own SQLite database' : false;

describe('trousseau demo: the walk-through in Chromium', { timeout: 180_000, skip }, () => {
  let demo;
  let browser;
  let printed;
  let trousseau;
  let sandbox;
  before(async () => {
    const port = await demoPort();
    trousseau = `http://localhost:${port}`;
    sandbox = `http://127.0.0.1:${port + 10}`;
    demo = startDemo(port);
    printed = await demo.ready;
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    if (demo && demo.child.exitCode === null) {
      const gone = new Promise((r) => demo.child.once('exit', r));
      demo.child.kill('SIGINT');
      const timer = setTimeout(() => demo.child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
  });

  test('key, DPI, DMP through PSC: paired once, then no prompt, then the confirmation screen', async () => {
    // The walk-through, in French, with the URLs of this run.
    for (const step of [`${trousseau}/keys/enrol`, `${trousseau}/demo`, `${trousseau}/demo/dmp`, `${sandbox}/ecps`]) {
      assert.ok(printed.includes(step), `the walk-through names ${step}:\n${printed}`);
    }
    assert.match(printed, /Parcours :/);
    const code = printed.match(/usage unique : (\S+)/)?.[1];
    assert.ok(code, `an enrolment code is printed:\n${printed}`);

    const page = await (await newContext(browser)).newPage();
    const phone = await (await newContext(browser)).newPage();
    try {
      await plugKey(page);
      await page.goto(`${trousseau}/keys/enrol`);
      await page.getByLabel('Identifiant').fill('demo');
      await page.getByLabel("Code d'enrôlement").fill(code);
      await page.getByLabel('Nom de la clé').fill('Clé de démonstration');
      await page.getByRole('button', { name: 'Enregistrer ma clé' }).click();
      await page.getByRole('heading', { name: 'Clé enregistrée' }).waitFor({ timeout: 15_000 });

      // DPI → Trousseau (key) → DPI.
      await page.goto(`${trousseau}/demo`);
      await page.getByRole('link', { name: 'Se connecter avec Trousseau' }).click();
      await page.getByRole('button', { name: 'Se connecter avec une clé de sécurité' }).click();
      await page.waitForURL((u) => u.pathname === '/demo/callback');
      await page.getByText('Connexion réussie.').waitFor();

      // DMP → sandbox → Trousseau: no login prompt, but the local pairing is missing.
      await page.goto(`${trousseau}/demo/dmp`);
      await page.getByRole('link', { name: OPEN_DMP }).click();
      await page.waitForURL((u) => u.pathname === '/pairing');
      await phone.goto(`${sandbox}/ecps`);
      await phone.getByLabel('Identifiant national (IdNat)').fill(IDNAT);
      await phone.getByRole('button', { name: 'Afficher' }).click();
      await page.getByRole('button', { name: "Appairer avec l'application e-CPS" }).click();
      const first = (await page.locator('#binding-message').innerText()).trim();
      await approve(phone, first);
      await page.getByText('Votre compte est appairé.').first().waitFor({ timeout: 20_000 });
      await page.locator('#pairing-continue').click();

      // The sandbox's pairing screen: a second approval binds tid/oid to the IdNat.
      await page.waitForURL((u) => u.pathname === '/wallet/broker/pair', { timeout: 20_000 });
      await page.getByRole('heading', { name: "Appairage de votre compte d'établissement" }).waitFor();
      assert.equal((await page.locator('#account').innerText()).trim(), 'demo');
      await page.locator('#idnat').fill(IDNAT);
      await page.getByRole('button', { name: "Envoyer la demande à l'application e-CPS" }).click();
      const second = (await page.locator('#binding').innerText()).trim();
      await approve(phone, second);
      await page.waitForURL((u) => u.pathname === '/demo/dmp/callback', { timeout: 30_000 });
      await page.getByRole('heading', { name: WELCOME }).waitFor();
      const welcome = await page.locator('main').innerText();
      for (const expected of [IDNAT, 'FI_TIERS', 'eidas1', 'CHU DE DÉMONSTRATION']) {
        assert.ok(welcome.includes(expected), `the DMP shows ${expected}:\n${welcome}`);
      }

      // Again, within PSC's session: no prompt at all.
      await page.goto(`${trousseau}/demo/dmp`);
      await page.getByRole('link', { name: OPEN_DMP }).click();
      await page.waitForURL((u) => u.pathname === '/demo/dmp/callback');
      await page.getByRole('heading', { name: WELCOME }).waitFor();

      // After a logout from PSC: Trousseau answers at once, PSC only asks for a confirmation.
      await page.getByRole('link', { name: 'Se déconnecter de Pro Santé Connect' }).click();
      await page.waitForURL((u) => u.pathname === '/demo/dmp');
      await page.getByRole('link', { name: OPEN_DMP }).click();
      await page.getByRole('heading', { name: 'Confirmation de connexion' }).waitFor();
      await page.getByRole('button', { name: 'Confirmer' }).click();
      await page.waitForURL((u) => u.pathname === '/demo/dmp/callback');
      await page.getByRole('heading', { name: WELCOME }).waitFor();
    } catch (err) {
      const text = await page.locator('body').innerText({ timeout: 1000 }).catch(() => '(unavailable)');
      err.message += `\n--- ${page.url()} ---\n${text.slice(0, 1500)}\n--- demo (tail) ---\n${demo.stderr()}`;
      throw err;
    }
  });
});

/** On the sandbox's phone page: approves the request showing `code`. */
async function approve(phone, code) {
  assert.match(code, /^\d{2}$/, 'a two-digit code');
  await phone.goto(`${new URL(phone.url()).origin}/ecps?idnat=${IDNAT}`);
  const row = phone.locator('tr.request', {
    has: phone.locator('td.code', { hasText: new RegExp(`^${code}$`) }),
  });
  await row.getByRole('button', { name: 'Approuver' }).click();
  await phone.getByRole('status').first().waitFor();
}
