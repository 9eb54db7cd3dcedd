// The console's web UI end to end, in a real headless Chromium against a real console and a
// real agent: login, the agent coming online, its chart filling, config pushed (applied, and
// refused inline by the schema and by the agent's own policy), stop/start with replies, and
// no way in without logging in. Screenshots for the README: see screenshotDir().
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { DEVICE, logIn, screenshotDir, startWorld, type UiWorld } from './harness.js';

const SHOTS = screenshotDir();
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

let w: UiWorld;
let ctx: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  w = await startWorld();
  ctx = await w.browser.newContext({ viewport: DESKTOP });
  page = await ctx.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

after(async () => {
  await w?.stop();
});

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const row = () => page.locator(`#fleet-table tr[data-device="${DEVICE}"]`);

test('without a login nothing is shown: pages redirect to the login, the API answers 401', async () => {
  const plain = await fetch(`${w.baseUrl}/ui/`, { redirect: 'manual' });
  assert.equal(plain.status, 303);
  assert.equal(plain.headers.get('location'), '/ui/login');
  for (const path of ['/api/ui/fleet', `/api/ui/devices/${DEVICE}`, `/api/ui/devices/${DEVICE}/chart`, '/api/devices', '/ui/session']) {
    const r = await fetch(`${w.baseUrl}${path}`);
    assert.equal(r.status, 401, path);
  }
  const forged = await fetch(`${w.baseUrl}/api/devices`, { headers: { cookie: 'fp_session=forged-session-id' } });
  assert.equal(forged.status, 401);

  const p = await ctx.newPage();
  await p.goto(`${w.baseUrl}/ui/#/device/${DEVICE}`);
  await p.waitForURL(/\/ui\/login(#.*)?$/);
  await p.fill('#secret', 'not-the-admin-token');
  await p.click('button[type=submit]');
  await p.locator('.error', { hasText: 'Wrong password or token' }).waitFor();
  assert.deepEqual(await ctx.cookies(), []);
  await p.close();
});

test('log in; the local agent comes online in the fleet list', async () => {
  await logIn(page, w.baseUrl, w.token);
  const cookies = await ctx.cookies();
  const s = cookies.find((c) => c.name === 'fp_session');
  assert.ok(s, 'session cookie set');
  assert.equal(s.httpOnly, true);
  assert.equal(s.sameSite, 'Strict');
  assert.equal(s.secure, false, 'plain HTTP here: Secure only on TLS');
  assert.doesNotMatch(s.value, new RegExp(w.token), 'the cookie is a session id, not the token');

  await row().locator('.badge', { hasText: /^online$/ }).waitFor({ timeout: 45_000 });
  await row().locator('td[data-label="Agent"]', { hasText: /\d+\.\d+/ }).waitFor();
  await page.locator('#fleet-counts', { hasText: '1 of 1 online' }).waitFor();
  // Filter: a non-matching text hides the row, clearing it brings it back.
  await page.fill('#fleet-filter', 'no-such-device');
  await row().waitFor({ state: 'detached' });
  await page.fill('#fleet-filter', 'pi-lab');
  await row().waitFor();
});

test('state changes with the session cookie need the CSRF token and the same origin', async () => {
  const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  const body = JSON.stringify({ command: 'probe-now' });
  const noToken = await fetch(`${w.baseUrl}/api/devices/${DEVICE}/commands`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
  assert.equal(noToken.status, 403);
  const csrf = ((await (await fetch(`${w.baseUrl}/ui/session`, { headers: { cookie } })).json()) as { csrf: string }).csrf;
  const foreign = await fetch(`${w.baseUrl}/api/devices/${DEVICE}/commands`, {
    method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf, origin: 'http://evil.example' }, body,
  });
  assert.equal(foreign.status, 403);
  const reads = await fetch(`${w.baseUrl}/api/devices/${DEVICE}`, { headers: { cookie } });
  assert.equal(reads.status, 200, 'a GET with the session needs no token');
});

test('device page: the chart fills with the agent\'s rounds', async () => {
  await row().locator('a').click();
  await page.waitForURL(new RegExp(`#/device/${DEVICE}$`));
  for (const probe of ['loopback-v4', 'loopback-v6']) {
    const fig = page.locator(`figure.chart[data-probe="${probe}"]`);
    await fig.locator('canvas').waitFor();
    // data-points: rounds with a median the chart holds (the page's CSP forbids evaluated predicates).
    await until(`5 rounds of ${probe} in the chart`, 45_000, async () => Number(await fig.getAttribute('data-points')) >= 5);
  }
  await page.locator('#range-label', { hasText: 'every round' }).waitFor();
  // Long ranges switch to aggregates.
  await page.click('button[data-range="30 d"]');
  await page.locator('#range-label', { hasText: '1-hour buckets' }).waitFor();
  await page.click('button[data-range="7 d"]');
  await page.locator('#range-label', { hasText: '5-minute buckets' }).waitFor();
  await page.click('button[data-range="1 h"]');
  await page.locator('#range-label', { hasText: 'every round' }).waitFor();
});

test('push a config and see it applied', async () => {
  await page.locator('#config-text').waitFor();
  const doc = {
    agent_operations: { monitoring_enabled: true, probe_interval: 2 },
    probes: [
      { name: 'loopback-v4', ip_address: '127.0.0.1', count: 5, interval_ms: 50, timeout_ms: 500 },
      { name: 'loopback-v6', ip_address: '::1', count: 5, interval_ms: 50, timeout_ms: 500 },
      { name: 'loopback-alt', ip_address: '127.0.0.2', count: 3, interval_ms: 50, timeout_ms: 500 },
    ],
  };
  await page.fill('#config-text', JSON.stringify(doc, null, 2));
  await page.locator('#config-push:enabled').waitFor();
  // Nothing was pushed before: the device runs its file config, which the console never sees.
  await page.locator('#config-diff', { hasText: 'No config from the console applied yet' }).waitFor();
  await page.click('#config-push');
  await page.locator('#config-verdict', { hasText: 'v1 applied by the device' }).waitFor({ timeout: 45_000 });
  await page.locator('#fact-config', { hasText: 'v1 applied' }).waitFor();
  await page.locator('figure.chart[data-probe="loopback-alt"] canvas').waitFor({ timeout: 45_000 });
});

test('an invalid config is marked inline and cannot be pushed; one the agent refuses comes back rejected', async () => {
  const schemaBad = {
    agent_operations: { monitoring_enabled: true, probe_interval: 2 },
    probes: [{ name: 'loopback-v4', ip_address: '127.0.0.1', count: 0 }],
  };
  await page.fill('#config-text', JSON.stringify(schemaBad, null, 2));
  const problem = page.locator('#config-problems li', { hasText: 'probes[0].count' });
  await problem.waitFor();
  // The problem names the line of "count" in the editor's text.
  assert.match((await problem.textContent()) ?? '', /^line 10: /);
  assert.equal(await page.locator('.gutter .bad').count(), 1);
  assert.equal(await page.isDisabled('#config-push'), true);

  await page.fill('#config-text', '{ "probes": [ }');
  await page.locator('#config-problems li', { hasText: 'invalid JSON' }).waitFor();
  assert.equal(await page.isDisabled('#config-push'), true);

  // Valid by the schema, refused by the device's local safety policy (max_size 512).
  const policyBad = {
    agent_operations: { monitoring_enabled: true, probe_interval: 2 },
    probes: [{ name: 'loopback-v4', ip_address: '127.0.0.1', count: 3, size: 1000 }],
  };
  await page.fill('#config-text', JSON.stringify(policyBad, null, 2));
  await page.locator('#config-push:enabled').waitFor();
  // The diff is against v1, which the device applied.
  await page.locator('#config-base', { hasText: 'against v1, applied by the device' }).waitFor();
  await page.locator('#config-diff .del', { hasText: 'loopback-alt' }).waitFor();
  await page.locator('#config-diff .add', { hasText: '"size": 1000' }).waitFor();
  await page.click('#config-push');
  await page.locator('#config-verdict', { hasText: /v2 rejected by the device: probes\[0\]\.size: .*1000 bytes exceed max_size 512/ }).waitFor({ timeout: 45_000 });
  await page.locator('#fact-config', { hasText: 'v2 rejected' }).waitFor();
  // Still compared with v1, which the device keeps running.
  await page.locator('#config-base', { hasText: 'against v1, applied by the device' }).waitFor();
  await page.locator('#config-diff .add', { hasText: '"size": 1000' }).waitFor();
});

test('stop and start monitoring, each with its reply', async () => {
  await page.click('button[data-command="stop"]');
  await page.locator('#command-status', { hasText: 'stop: ok' }).waitFor({ timeout: 45_000 });
  assert.match((await page.textContent('#command-status')) ?? '', /"monitoring_enabled":false/);
  await page.locator('#device-facts dd', { hasText: 'stopped' }).waitFor({ timeout: 30_000 });
  await page.click('button[data-command="start"]');
  await page.locator('#command-status', { hasText: 'start: ok' }).waitFor({ timeout: 45_000 });
  assert.match((await page.textContent('#command-status')) ?? '', /"monitoring_enabled":true/);
  await page.locator('#device-facts dd', { hasText: 'running' }).waitFor({ timeout: 30_000 });
  await page.click('button[data-command="probe-now"]');
  await page.locator('#command-status', { hasText: /^probe-now: ok — \{"probes":3,"results":3,/ }).waitFor({ timeout: 45_000 });
  await page.click('button[data-command="drain"]');
  await page.locator('#command-status', { hasText: /^drain: ok — \{"rows_before":\d+,"delivered":\d+,"rows_after":\d+,"complete":true\}/ }).waitFor({ timeout: 45_000 });
  // update asks first; this agent release refuses it, and the refusal is shown.
  page.once('dialog', (d) => void d.accept());
  await page.click('button[data-command="update"]');
  await page.locator('#command-status', { hasText: /^update: rejected — / }).waitFor({ timeout: 45_000 });
  assert.equal(await page.locator('#command-log tr[data-status="ok"]').count(), 4);
  assert.equal(await page.locator('#command-log tr[data-status="rejected"]').count(), 1);
});

test('screenshots: fleet list and device page, desktop and phone', async () => {
  await page.locator('#config-verdict').scrollIntoViewIfNeeded();
  // Zoomed in to the minute the test ran, with the buttons and then by dragging across a chart.
  await page.evaluate('window.scrollTo(0, 0)');
  for (let i = 0; i < 4; i++) await page.click('button[aria-label="Zoom in"]');
  await page.locator('#range-label', { hasText: / – now · every round$/ }).waitFor();
  const live = (await page.textContent('#range-label')) ?? '';
  const over = page.locator('figure.chart .u-over').first();
  const b = await over.boundingBox();
  assert.ok(b);
  await page.mouse.move(b.x + b.width * 0.7, b.y + b.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width * 0.99, b.y + b.height / 2, { steps: 8 });
  await page.mouse.up();
  await until('the drag to zoom in', 10_000, async () => {
    const label = (await page.textContent('#range-label')) ?? '';
    return label !== live && !label.includes(' – now');
  });
  await page.waitForTimeout(1000);
  await page.screenshot({ path: join(SHOTS, 'device-desktop.png'), fullPage: true });
  // Pan back and forth, then follow the clock again.
  const zoomed = await page.textContent('#range-label');
  await page.click('button[aria-label="Earlier"]');
  await until('the pan', 10_000, async () => (await page.textContent('#range-label')) !== zoomed);
  await page.click('button[title="Now"]');
  await page.locator('#range-label', { hasText: ' – now' }).waitFor();
  await page.goto(`${w.baseUrl}/ui/#/`);
  await row().locator('.badge', { hasText: /^online/ }).waitFor();
  await page.screenshot({ path: join(SHOTS, 'fleet-desktop.png') });

  const phone = await w.browser.newContext({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await phone.addCookies(await ctx.cookies());
  const p = await phone.newPage();
  await p.goto(`${w.baseUrl}/ui/`);
  await p.locator(`#fleet-table tr[data-device="${DEVICE}"] .badge`, { hasText: /^online/ }).waitFor();
  // On a phone the table becomes labelled cards.
  assert.equal(await p.locator('#fleet-table thead').isVisible(), false);
  await p.screenshot({ path: join(SHOTS, 'fleet-phone.png') });
  await p.goto(`${w.baseUrl}/ui/#/device/${DEVICE}`);
  await p.locator('figure.chart canvas').first().waitFor();
  const box = await p.locator('figure.chart').first().boundingBox();
  assert.ok(box && box.width <= PHONE.width, `chart fits the phone (${box?.width})`);
  for (let i = 0; i < 5; i++) await p.click('button[aria-label="Zoom in"]');
  await p.waitForTimeout(1500);
  await p.screenshot({ path: join(SHOTS, 'device-phone.png'), fullPage: true });
  await phone.close();
});

test('no script errors on the pages', () => {
  assert.deepEqual(pageErrors, []);
});

test('log out ends the session', async () => {
  const before = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
  await page.click('#logout button');
  await page.waitForURL(/\/ui\/login(#.*)?$/);
  const r = await fetch(`${w.baseUrl}/api/ui/fleet`, { headers: { cookie: before } });
  assert.equal(r.status, 401, 'the old cookie no longer works');
});
