// Long ranges in the browser: a simulated device sends a week of rounds through the console's
// broker as an agent would after a long outage (QoS 1 telemetry batches), the console stores
// and rolls them up, and the device page draws 7 days from 5-minute buckets and a year from
// 1-hour buckets, with the device's offline hours as a gap. The rounds are synthetic (no
// packets are sent; the targets are documentation addresses used as labels); everything
// from the MQTT connection on is the real console. Its 7-day chart is the README's picture.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import type { ProbeResult } from '../../agent/core/result.js';
import { consoleTopics } from '../../console/topics.js';
import { deviceClient, result, startTestConsole, telemetry, TOKEN, waitUntil, type TestConsole } from '../console/helpers.js';
import type { AgentState } from '../../agent/core/control.js';
import type { DevicesBody, StreamsBody } from '../../console/api/types.js';
import type { ChartData } from '../../console/http/ui-series.js';
import { launchChromium, logIn, screenshotDir } from './harness.js';

const SHOTS = screenshotDir();
const DEV = 'pi-branch-07';
const PASSWORD = 'history-view-device-password';
const DAY = 86_400_000;
const OFFLINE_FROM_H = 3 * 24 + 2;
const OFFLINE_TO_H = 3 * 24 + 9;

/** Deterministic noise (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A week of 60-second rounds of 5 packets to two targets: a daily rhythm, jitter, a little
 * background loss, a loss episode on day 2 and a worse one on day 5, and 7 hours offline on day 4.
 */
function week(end: number, days = 7, seed = 7, scale = 1): ProbeResult[] {
  const rand = rng(seed);
  const start = end - days * DAY;
  const out: ProbeResult[] = [];
  for (let ts = start; ts < end; ts += 60_000) {
    const h = (ts - start) / 3600_000;
    if (h >= OFFLINE_FROM_H && h < OFFLINE_TO_H) continue;
    const daily = Math.sin(((ts % DAY) / DAY) * 2 * Math.PI - Math.PI / 2);
    const lossP = h >= 36 && h < 38 ? 0.15 : h >= 5 * 24 + 14 && h < 5 * 24 + 15 ? 0.6 : 0.003;
    for (const [name, target, b, spread] of [['isp-gateway', '192.0.2.1', 6, 1.5], ['dns-resolver', '198.51.100.53', 18, 4]] as const) {
      const base = b * scale;
      const busy = 1 + 0.5 * (daily + 1);
      const rtts = Array.from({ length: 5 }, () => (rand() < lossP ? null : Math.round((base * busy + spread * -Math.log(1 - rand() * 0.999)) * 1000) / 1000));
      out.push(result(name, ts, rtts, target));
    }
  }
  return out;
}

let c: TestConsole;
let device: MqttClient;
let browser: Browser;
let page: Page;
let total = 0;

before(async () => {
  c = await startTestConsole();
  const reg = await c.api('POST', '/api/devices', { id: DEV, password: PASSWORD });
  assert.equal(reg.status, 201);
  device = await deviceClient(c.mqttUrls[0]!, { clientId: DEV, username: DEV, password: PASSWORD });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await device?.endAsync(true).catch(() => undefined);
  await browser?.close();
  await c?.remove();
});

test('a week of rounds arrives over MQTT and is rolled up', async () => {
  const results = week(Date.now());
  total = results.length;
  const topic = consoleTopics('').forDevice(DEV).events;
  for (let i = 0; i < results.length; i += 500) {
    const items = results.slice(i, i + 500).map((r, k) => ({ seq: i + k + 1, r }));
    await device.publishAsync(topic, telemetry(DEV, 'history-stream', items), { qos: 1 });
  }
  await waitUntil('every round stored', 60_000, async () => {
    const s = await c.api<StreamsBody>('GET', `/api/devices/${DEV}/streams`);
    return s.body.streams[0]?.results === total;
  });
  await device.publishAsync(consoleTopics('').forDevice(DEV).state, Buffer.from(JSON.stringify(state(DEV, { uptime_s: 7 * 86_400 }))), { qos: 1 });
  await c.fleet.refreshRollups(0);
  const day = await c.api<ChartData>('GET', `/api/ui/devices/${DEV}/chart?from=${Date.now() - 7 * DAY}&to=${Date.now()}`);
  assert.equal(day.body.stepS, 300);
  // Large answers travel gzipped to clients that take it (fetch decodes them).
  const gz = await fetch(`${c.httpUrl}/api/ui/devices/${DEV}/chart?from=${Date.now() - 7 * DAY}`, { headers: { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.deepEqual(((await gz.json()) as { stepS: number }).stepS, 300);
});

test('7 days from 5-minute buckets, the offline hours a gap; a year from 1-hour buckets', async () => {
  await logIn(page, c.httpUrl, TOKEN);
  await page.goto(`${c.httpUrl}/ui/#/device/${DEV}`);
  await page.click('button[data-range="7 d"]');
  await page.locator('#range-label', { hasText: '5-minute buckets' }).waitFor();
  for (const probe of ['isp-gateway', 'dns-resolver']) {
    const fig = page.locator(`figure.chart[data-probe="${probe}"]`);
    await fig.locator('canvas').waitFor();
    const points = Number(await fig.getAttribute('data-points'));
    const gaps = Number(await fig.getAttribute('data-gaps'));
    // 7 days of 5-minute buckets less 7 offline hours (84 buckets), give or take the edges.
    assert.ok(points >= 2016 - 84 - 3 && points <= 2016 - 84 + 2, `${probe}: ${points} buckets`);
    assert.equal(gaps, 1, `${probe}: one gap, the offline hours`);
  }
  // The caption sums the range up as SmokePing's legend does; the loss episodes show in its max.
  await page.locator('figure.chart[data-probe="isp-gateway"] .stats', { hasText: /median avg [\d.]+ ms, now [\d.]+ ms \([\d.]+ ms – [\d.]+ ms\) · loss avg [\d.]+%, max (\d+)%/ }).waitFor();
  const maxLoss = Number(/max (\d+)%/.exec((await page.locator('figure.chart[data-probe="isp-gateway"] .stats').textContent()) ?? '')?.[1]);
  // 25 packets per bucket at 60% loss: the worst bucket of that hour lies well above 40%, below 100%.
  assert.ok(maxLoss >= 40 && maxLoss < 100, `the worst 5 minutes lost ${maxLoss}% (60% for an hour)`);
  await page.locator('figure.chart').first().scrollIntoViewIfNeeded();
  await page.waitForTimeout(500);
  await page.locator('section.panel').first().screenshot({ path: join(SHOTS, 'device-week.png') });

  await page.click('#streams summary');
  await page.locator('#streams td[data-label="Results"]', { hasText: total.toLocaleString('en-US') }).waitFor();
  assert.equal(await page.locator('#streams td[data-label="Missing"]').textContent(), '0');

  await page.click('button[data-range="1 y"]');
  await page.locator('#range-label', { hasText: '1-hour buckets' }).waitFor();
  const fig = page.locator('figure.chart[data-probe="isp-gateway"]');
  await waitUntil('the year view', 10_000, async () => {
    const n = Number(await fig.getAttribute('data-points'));
    return n >= 168 - 7 - 2 && n <= 168 - 7 + 2;
  });
});

/** What an agent reports in its state, with the fields the fleet list shows. */
function state(id: string, o: Partial<AgentState>): AgentState {
  return {
    agent_version: '0.1.0', device: id, config_version: null, config_source: 'file', config_error: null, monitoring_enabled: true, probes: 2,
    outbox: { rows: 0, bytes: 0, oldest: null }, dropped_total: 0, last_delivery: new Date().toISOString(), last_error: null, uptime_s: 86_400,
    skipped_rounds: 0, rejected_messages: 0, updated_at: new Date().toISOString(), ...o,
  };
}

test('fleet list: several devices with their state; filter for problems, sort by outbox', async () => {
  const now = Date.now();
  const others: Array<{ id: string; online: boolean; st: Partial<AgentState>; push?: boolean }> = [
    { id: 'pi-branch-01', online: true, st: {} },
    { id: 'pi-branch-02', online: true, st: { agent_version: '0.0.9', outbox: { rows: 48_210, bytes: 9_800_000, oldest: new Date(now - 5 * 3600_000).toISOString() } } },
    { id: 'pi-branch-03', online: false, st: {} },
    { id: 'pi-branch-04', online: true, st: { dropped_total: 1_250, outbox: { rows: 120_000, bytes: 64_000_000, oldest: null } } },
    { id: 'pi-branch-05', online: true, push: true, st: {} },
  ];
  const clients: MqttClient[] = [];
  try {
    let seed = 11;
    for (const o of others) {
      assert.equal((await c.api('POST', '/api/devices', { id: o.id, password: PASSWORD })).status, 201);
      const cl = await deviceClient(c.mqttUrls[0]!, { clientId: o.id, username: o.id, password: PASSWORD });
      clients.push(cl);
      const t = consoleTopics('').forDevice(o.id);
      const recent = week(now, 0.25, seed++, 0.6 + seed / 10).map((r, k) => ({ seq: k + 1, r }));
      await cl.publishAsync(t.events, telemetry(o.id, 's', recent), { qos: 1 });
      let st = state(o.id, o.st);
      if (o.push) {
        const doc = { agent_operations: { monitoring_enabled: true, probe_interval: 60 }, probes: [{ name: 'branch-router', ip_address: '10.40.0.1' }] };
        assert.equal((await c.api('PUT', `/api/devices/${o.id}/config`, doc)).status, 202);
        st = state(o.id, {
          config_error: { version: 1, path: 'probes[0].ip_address', reason: '10.40.0.1 is outside allow_cidrs', at: new Date().toISOString(), problems: ['probes[0].ip_address: 10.40.0.1 is outside allow_cidrs'] },
        });
      }
      await cl.publishAsync(t.state, Buffer.from(JSON.stringify(st)), { qos: 1 });
      if (!o.online) await cl.endAsync();
    }
    await waitUntil('every state stored', 20_000, async () => {
      const d = await c.api<DevicesBody>('GET', '/api/devices');
      return d.body.devices.filter((x) => x.agent_version !== null).length === others.length + 1;
    });
    await c.fleet.refreshRollups(0);

    await page.goto(`${c.httpUrl}/ui/#/`);
    await page.locator('#fleet-counts', { hasText: '6 shown · 5 of 6 online' }).waitFor();
    const rowOf = (id: string) => page.locator(`#fleet-table tr[data-device="${id}"]`);
    await rowOf('pi-branch-03').locator('.badge', { hasText: 'offline' }).waitFor();
    await rowOf('pi-branch-05').locator('td.config', { hasText: 'v1 rejected: probes[0].ip_address: 10.40.0.1 is outside allow_cidrs' }).waitFor();
    assert.equal(await rowOf('pi-branch-02').locator('td[data-label="Outbox"]').textContent(), '48,210');
    assert.equal(await rowOf('pi-branch-04').locator('td[data-label="Dropped"]').textContent(), '1,250');
    assert.equal(await rowOf('pi-branch-02').locator('td[data-label="Agent"]').textContent(), '0.0.9');
    // Every device sent rounds within the last 6 h: every sparkline draws.
    assert.equal(await page.locator('#fleet-table svg.spark path[d^="M"]').count(), 6);

    await page.click('th[data-key="outbox"] button');
    await page.click('th[data-key="outbox"] button');
    const order = await page.locator('#fleet-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device')));
    assert.deepEqual(order.slice(0, 2), ['pi-branch-04', 'pi-branch-02']);
    await page.screenshot({ path: join(SHOTS, 'fleet-many.png') });

    await page.selectOption('#fleet-show', 'problems');
    await page.locator('#fleet-counts', { hasText: '3 shown' }).waitFor();
    const problems = await page.locator('#fleet-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-device')));
    assert.deepEqual([...problems].sort(), ['pi-branch-03', 'pi-branch-04', 'pi-branch-05']);
  } finally {
    await Promise.all(clients.map((x) => x.endAsync(true).catch(() => undefined)));
  }
});

test('register a device from the fleet list (password shown once), then remove it from its page', async () => {
  await page.goto(`${c.httpUrl}/ui/#/`);
  await page.click('#register summary');
  await page.fill('#register-id', 'pi-new-01');
  await page.click('form.register button[type=submit]');
  const password = (await page.locator('#register-password').textContent()) ?? '';
  assert.ok(password.length >= 12, password);
  await page.locator('#register-result pre.snippet', { hasText: `"url": "${c.mqttUrls[0]}"` }).waitFor();
  // The password works: the new device can log in to the broker.
  const dev = await deviceClient(c.mqttUrls[0]!, { clientId: 'pi-new-01', username: 'pi-new-01', password });
  await dev.endAsync();
  const row = page.locator('#fleet-table tr[data-device="pi-new-01"]');
  await row.waitFor();
  // The same id again is refused, with the console's reason.
  await page.fill('#register-id', 'pi-new-01');
  await page.click('form.register button[type=submit]');
  await page.locator('#register-result', { hasText: /Not registered: .*pi-new-01/ }).waitFor();

  await row.locator('a').click();
  page.once('dialog', (d) => void d.accept());
  await page.click('#device-remove');
  await page.waitForURL(/#\/$/);
  await row.waitFor({ state: 'detached' });
  assert.equal((await c.api('GET', '/api/devices/pi-new-01')).status, 404);
});
