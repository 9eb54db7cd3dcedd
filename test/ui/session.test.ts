// The web UI's login, session and file serving over real HTTP(S), without a browser: cookie
// attributes (Secure on TLS), CSRF and origin checks, expiry, the failed-login cap, and the
// static files (CSP, gzip, ETag, no path outside the table).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { CommandsBody } from '../../console/api/types.js';
import { createConsoleUi } from '../../console/http/ui-routes.js';
import { SqliteStore } from '../../console/store/sqlite-store.js';
import { startTestConsole, TOKEN, type TestConsole } from '../console/helpers.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';

let clock = Date.now();
let c: TestConsole;

before(async () => {
  c = await startTestConsole({}, { now: () => clock });
});

after(async () => {
  await c?.remove();
});

function form(secret: string, headers: Record<string, string> = {}): RequestInit {
  return { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams({ secret }).toString() };
}

async function login(): Promise<{ cookie: string; setCookie: string; csrf: string }> {
  const r = await fetch(`${c.httpUrl}/ui/login`, form(TOKEN));
  assert.equal(r.status, 303);
  assert.equal(r.headers.get('location'), '/ui/');
  const setCookie = r.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const s = await fetch(`${c.httpUrl}/ui/session`, { headers: { cookie } });
  assert.equal(s.status, 200);
  return { cookie, setCookie, csrf: ((await s.json()) as { csrf: string }).csrf };
}

test('login sets an HttpOnly, SameSite=Strict session cookie (no Secure on plain HTTP) that opens the UI and the API', async () => {
  const { cookie, setCookie } = await login();
  assert.match(setCookie, /^fp_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  assert.ok(!setCookie.includes(TOKEN));
  const again = await fetch(`${c.httpUrl}/ui/login`, { headers: { cookie }, redirect: 'manual' });
  assert.equal(again.status, 303, 'logged in: the login page sends you on');
  const page = await fetch(`${c.httpUrl}/ui/`, { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.match(await page.text(), /<main id="app"/);
  assert.equal((await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie } })).status, 200);
  assert.equal((await fetch(`${c.httpUrl}/api/ui/fleet`, { headers: { cookie } })).status, 200);
  // Scripts use the admin token on the UI's API as on the core API.
  assert.equal((await fetch(`${c.httpUrl}/api/ui/fleet`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  assert.equal((await fetch(`${c.httpUrl}/api/ui/fleet`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
});

test('state changes with a session need the CSRF token and the same origin; the admin token needs neither', async () => {
  const { cookie, csrf } = await login();
  await c.api('POST', '/api/devices', { id: 'pi-csrf' });
  const post = (headers: Record<string, string>) =>
    fetch(`${c.httpUrl}/api/devices/pi-csrf/commands`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ command: 'probe-now' }) });
  assert.equal((await post({ cookie })).status, 403);
  assert.equal((await post({ cookie, 'x-csrf-token': 'x'.repeat(csrf.length) })).status, 403);
  assert.equal((await post({ cookie, 'x-csrf-token': csrf, origin: 'http://attacker.example' })).status, 403);
  assert.equal((await post({ cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'cross-site' })).status, 403);
  const host = new URL(c.httpUrl).host;
  assert.equal((await post({ cookie, 'x-csrf-token': csrf, origin: `http://${host}` })).status, 202);
  assert.equal((await post({ cookie, 'x-csrf-token': csrf })).status, 202);
  // Behind a TLS reverse proxy the page's origin is https with the same host.
  assert.equal((await post({ cookie, 'x-csrf-token': csrf, origin: `https://${host}` })).status, 202);
  assert.equal((await post({ cookie, 'x-csrf-token': csrf, origin: 'null' })).status, 403);
  assert.equal((await post({ authorization: `Bearer ${TOKEN}` })).status, 202);
  const commands = await c.api<CommandsBody>('GET', '/api/devices/pi-csrf/commands');
  assert.equal(commands.body.commands.length, 4, 'only the accepted requests made commands');
  // Logging in from another site's form is refused too (login CSRF).
  const cross = await fetch(`${c.httpUrl}/ui/login`, form(TOKEN, { origin: 'http://attacker.example' }));
  assert.equal(cross.status, 403);
  assert.equal(cross.headers.get('set-cookie'), null);
});

test('a session ends after 2 h idle or 12 h in all, and at logout', async () => {
  const a = await login();
  clock += 2 * 3600_000 - 1000;
  assert.equal((await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie: a.cookie } })).status, 200, 'used within the idle time');
  clock += 2 * 3600_000 - 1000;
  assert.equal((await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie: a.cookie } })).status, 200);
  clock += 2 * 3600_000;
  assert.equal((await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie: a.cookie } })).status, 401, 'idle for 2 h');

  const b = await login();
  for (let i = 0; i < 7; i++) {
    clock += 3600_000 * 1.75;
    const status = (await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie: b.cookie } })).status;
    assert.equal(status, i < 6 ? 200 : 401, `after ${((i + 1) * 1.75).toFixed(2)} h`);
  }

  const d = await login();
  const out = await fetch(`${c.httpUrl}/ui/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: d.cookie, 'x-csrf-token': d.csrf } });
  assert.equal(out.status, 303);
  assert.match(out.headers.get('set-cookie') ?? '', /^fp_session=; .*Max-Age=0/);
  assert.equal((await fetch(`${c.httpUrl}/api/devices`, { headers: { cookie: d.cookie } })).status, 401);
});

test('wrong secrets answer 401; after five the form answers 429 for a minute, even to the right one, also when guesses come all at once', async () => {
  for (let i = 0; i < 5; i++) {
    const r = await fetch(`${c.httpUrl}/ui/login`, form(`wrong-${i}`));
    assert.equal(r.status, 401);
    assert.match(await r.text(), /Wrong password or token/);
  }
  const locked = await fetch(`${c.httpUrl}/ui/login`, form(TOKEN));
  assert.equal(locked.status, 429);
  assert.equal(locked.headers.get('set-cookie'), null);
  clock += 61_000;
  await login();
  // Guesses sent all at once meet the same cap.
  const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${c.httpUrl}/ui/login`, form(`burst-${i}`))));
  const statuses = burst.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...new Array(5).fill(401), ...new Array(15).fill(429)]);
  clock += 61_000;
});

test('files: a fixed table with ETag and gzip; nothing else is reachable under /ui/', async () => {
  const js = await fetch(`${c.httpUrl}/ui/vendor/uplot.js`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  assert.match(await js.text(), /export { uPlot as default }|export default uPlot/);
  const etag = js.headers.get('etag')!;
  assert.equal((await fetch(`${c.httpUrl}/ui/vendor/uplot.js`, { headers: { 'if-none-match': etag } })).status, 304);
  for (const path of ['/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/index.html', '/ui/nope.js', '/ui/vendor/../app.js.map']) {
    // fetch resolves "..": /package.json is then outside the UI and answers the core API's 401.
    const status = (await fetch(`${c.httpUrl}${path}`)).status;
    assert.ok(status === 404 || status === 401, `${path}: ${status}`);
  }
  const root = await fetch(`${c.httpUrl}/`, { redirect: 'manual', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(root.status, 303, 'a browser goes to the UI');
  assert.equal(root.headers.get('location'), '/ui/');
  assert.equal((await fetch(`${c.httpUrl}/`, { redirect: 'manual' })).status, 401, 'an API client is told to authenticate');
});

test('behind a TLS reverse proxy (X-Forwarded-Proto: https) the cookie gets Secure', async () => {
  const host = new URL(c.httpUrl).host;
  const r = await fetch(`${c.httpUrl}/ui/login`, form(TOKEN, { 'x-forwarded-proto': 'https', origin: `https://${host}` }));
  assert.equal(r.status, 303);
  assert.match(r.headers.get('set-cookie') ?? '', /; Secure$/);
});

test('without its files the UI answers 503 with the reason; the console is not held up by it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-ui-noweb-'));
  const store = SqliteStore.open({ path: join(dir, 'console.db'), synchronous: 'normal' });
  const ui = createConsoleUi({ store, checkAdmin: () => false, webRoot: '/nonexistent/web' });
  const server = http.createServer((req, res) => void ui.handle(req, res).then((done) => done || res.writeHead(404).end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ui/login`);
    assert.equal(r.status, 503);
    assert.match(((await r.json()) as { error: string }).error, /web UI's files are not installed .*\/nonexistent\/web/);
  } finally {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over TLS the cookie gets Secure', async () => {
  const ca: TestCa = await createTestCa('fleetprobe-ui-test-ca');
  const store = SqliteStore.open({ path: join(ca.dir, 'console.db'), synchronous: 'normal' });
  const ui = createConsoleUi({ store, checkAdmin: (s) => s === TOKEN });
  const server = https.createServer({ cert: readFileSync(ca.server.cert), key: readFileSync(ca.server.key) }, (req, res) => {
    void ui.handle(req, res).then((done) => {
      if (!done) res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const port = (server.address() as AddressInfo).port;
    const setCookie = await new Promise<string>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path: '/ui/login', method: 'POST', ca: readFileSync(ca.caCert), headers: { 'content-type': 'application/x-www-form-urlencoded', origin: `https://127.0.0.1:${port}` } }, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      });
      req.on('error', reject);
      req.end(new URLSearchParams({ secret: TOKEN }).toString());
    });
    assert.match(setCookie, /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  } finally {
    server.close();
    await store.close();
    await ca.remove();
  }
});
