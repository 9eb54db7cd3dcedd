// Charts over long ranges: raw rounds for an hour, 5-minute and 1-hour rollups for days and
// months, percentiles over every packet, offline periods left as gaps, late backlogs folded
// into buckets already computed. Data goes in through the embedded broker like an agent's.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { deviceClient, result, startTestConsole, telemetry, type TestConsole } from './helpers.js';
import type { HistoryBody, RegisteredBody } from '../../console/api/types.js';

let c: TestConsole;
let dev: MqttClient;
let seq = 0;
const HOUR = 3_600_000;
// Aligned so that buckets are predictable: the hour before the current one.
const now = Date.now();
const lastHour = Math.floor(now / HOUR) * HOUR - HOUR;

async function send(rounds: Array<{ ts: number; rtts: Array<number | null>; name?: string }>): Promise<void> {
  for (let i = 0; i < rounds.length; i += 200) {
    const items = rounds.slice(i, i + 200).map((r) => ({ seq: ++seq, r: result(r.name ?? 'gw', r.ts, r.rtts) }));
    await dev.publishAsync('/devices/pi-h/events', telemetry('pi-h', 'hist', items), { qos: 1 });
  }
}

before(async () => {
  c = await startTestConsole();
  const pw = (await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-h' })).body.registered[0]!.password!;
  dev = await deviceClient(c.mqttUrls[0]!, { clientId: 'pi-h', username: 'pi-h', password: pw });
  // 40 days of one round an hour, except days 10..12 ago (the device was off).
  const rounds = [];
  for (let t = lastHour - 40 * 24 * HOUR; t < lastHour; t += HOUR) {
    const daysAgo = (lastHour - t) / (24 * HOUR);
    if (daysAgo > 10 && daysAgo <= 12) continue;
    rounds.push({ ts: t + 60_000, rtts: [10, 20, 30, null] });
  }
  // The last hour: a round every 5 s with known RTTs, 1..10 ms, none lost.
  for (let t = lastHour; t < lastHour + HOUR; t += 5000) rounds.push({ ts: t, rtts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  await send(rounds);
  await c.fleet.refreshRollups(0);
});

after(async () => {
  await dev?.endAsync();
  await c?.remove();
});

const history = async (q: string) => {
  const r = await c.api<HistoryBody>('GET', `/api/devices/pi-h/history?${q}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};

test('an hour: raw rounds with every packet', async () => {
  const h = await history(`from=${lastHour}&to=${lastHour + HOUR}`);
  assert.equal(h.resolution, 'raw');
  assert.equal(h.series.length, 1);
  const pts = h.series[0]!.points;
  assert.equal(pts.length, 720);
  assert.deepEqual(pts[0]!.rtts, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(pts[0]!.loss_pct, 0);
});

test('a day: 5-minute buckets with percentiles over every packet and loss', async () => {
  const h = await history(`from=${lastHour - 23 * HOUR}&to=${lastHour + HOUR}`);
  assert.equal(h.resolution, 300);
  const pts = h.series[0]!.points;
  const last = pts.filter((p: { t: string }) => Date.parse(p.t) >= lastHour);
  assert.equal(last.length, 12);
  for (const p of last) {
    assert.equal(p.rounds, 60);
    assert.equal(p.sent, 600);
    assert.equal(p.loss_pct, 0);
    assert.equal(p.min, 1);
    assert.equal(p.max, 10);
    assert.equal(p.median, 5.5);
    assert.equal(p.p10, 1.9); // 600 samples, numpy's linear rule
    assert.equal(p.p90, 9.1);
  }
  const earlier = pts.filter((p: { t: string }) => Date.parse(p.t) < lastHour);
  assert.equal(earlier.length, 23, 'one bucket per hourly round');
  assert.equal(earlier[0]!.loss_pct, 25);
  assert.equal(earlier[0]!.median, 20);
});

test('a month: 1-hour buckets, the offline days are a gap, not interpolated', async () => {
  // A week still comes from 5-minute buckets (the web UI's 7 d view); beyond 8 days, hours.
  assert.equal((await history('from=-7d')).resolution, 300);
  assert.equal((await history('from=-9d')).resolution, 3600);
  const h = await history('from=-30d');
  assert.equal(h.resolution, 3600);
  const ts = h.series[0]!.points.map((p: { t: string }) => Date.parse(p.t));
  const inGap = ts.filter((t: number) => t > lastHour - 12 * 24 * HOUR && t < lastHour - 10 * 24 * HOUR);
  assert.deepEqual(inGap, []);
  const hour = h.series[0]!.points.find((p) => Date.parse(p.t) === lastHour)!;
  assert.equal(hour.rounds, 720);
  assert.equal(hour.median, 5.5);
  // 30 days of hourly buckets minus the 48 missing hours (and the current, unfinished hour).
  assert.ok(ts.length >= 30 * 24 - 48 - 2 && ts.length <= 30 * 24 - 48 + 1, String(ts.length));
  assert.ok((await history('from=-1y')).series[0]!.points.length > ts.length);
});

test('a late backlog lands in buckets already computed and they are recomputed', async () => {
  const bucket = lastHour - 5 * HOUR;
  const before = (await history(`from=${bucket}&to=${bucket + HOUR}&resolution=3600`)).series[0]!.points[0]!;
  assert.equal(before.rounds, 1);
  await send([{ ts: bucket + 120_000, rtts: [100, 100, 100, 100] }]);
  await c.fleet.refreshRollups(0);
  const after = (await history(`from=${bucket}&to=${bucket + HOUR}&resolution=3600`)).series[0]!.points[0]!;
  assert.equal(after.rounds, 2);
  assert.equal(after.max, 100);
  assert.equal(after.loss_pct, 12.5);
});

test('bad ranges and resolutions are one-line 400s', async () => {
  for (const q of ['from=yesterday', 'from=-1h&to=-2h', 'resolution=60']) {
    const r = await c.api<HistoryBody>('GET', `/api/devices/pi-h/history?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(typeof r.body.error, 'string');
  }
});
