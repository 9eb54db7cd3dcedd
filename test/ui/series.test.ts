// What the device chart draws, computed from a real SQLite store: raw rounds for short
// ranges with a null row at every outage (a gap, not a line across it), 5-minute and 1-hour
// aggregates for long ranges, the not yet rolled-up tail bucketed the same way the store's
// rollups are, and the fleet list's sparkline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chartData, sparkline, stepFor } from '../../console/http/ui-series.js';
import { SqliteStore } from '../../console/store/sqlite-store.js';
import { result } from '../console/helpers.js';

const DEV = 'pi-series';
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
let dir: string;
let store: SqliteStore;

/** Rounds every 5 s from T0 for 20 minutes, with an outage from minute 8 to minute 13 and one round of total loss at minute 3. */
function rounds(): Array<{ seq: number; ts: number; rtts: Array<number | null> }> {
  const out: Array<{ seq: number; ts: number; rtts: Array<number | null> }> = [];
  let seq = 1;
  for (let ts = T0; ts < T0 + 20 * 60_000; ts += 5000) {
    const min = (ts - T0) / 60_000;
    if (min >= 8 && min < 13) continue;
    const rtts = ts === T0 + 3 * 60_000 ? [null, null, null, null] : [1 + (seq % 3) * 0.1, 1.5, 2, 4];
    out.push({ seq: seq++, ts, rtts });
  }
  return out;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fp-ui-series-'));
  store = SqliteStore.open({ path: join(dir, 'console.db'), synchronous: 'normal' });
  await store.registerDevices([{ id: DEV, passwordHash: null, mosquittoHash: null, publicKeys: [], registeredAt: T0 }]);
  const results = rounds().map((r) => ({ seq: r.seq, ...result('lo', r.ts, r.rtts) }));
  await store.ingest([{ kind: 'telemetry', device: DEV, stream: 's1', results, at: T0 + 20 * 60_000 }]);
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the step follows the span: raw up to 6 h, 5-minute buckets up to 8 days, then 1-hour buckets', () => {
  assert.equal(stepFor(3600_000), 0);
  assert.equal(stepFor(6 * 3600_000), 0);
  assert.equal(stepFor(86_400_000), 300);
  assert.equal(stepFor(7 * 86_400_000), 300);
  assert.equal(stepFor(30 * 86_400_000), 3600);
  assert.equal(stepFor(365 * 86_400_000), 3600);
});

test('raw: one row per round, a null row in the outage, total loss is a loss not a gap', async () => {
  const d = await chartData(store, { device: DEV, from: T0, to: T0 + 3600_000 });
  assert.equal(d.stepS, 0);
  assert.equal(d.probes.length, 1);
  const p = d.probes[0]!;
  const n = rounds().length;
  assert.equal(p.t.length, n + 1, 'every round plus one gap row');
  const gap = p.t.findIndex((_, i) => p.loss[i] === null);
  assert.ok(gap > 0);
  assert.equal(p.median[gap], null);
  assert.ok(p.t[gap]! * 1000 > T0 + 8 * 60_000 - 5000 && p.t[gap]! * 1000 < T0 + 13 * 60_000, 'the gap row lies in the outage');
  const lost = p.t.findIndex((t) => t * 1000 === T0 + 3 * 60_000);
  assert.equal(p.loss[lost], 100);
  assert.equal(p.median[lost], null);
  const first = 0;
  assert.equal(p.min[first], 1.1);
  assert.equal(p.max[first], 4);
  assert.equal(p.median[first], 1.75);
  assert.ok(p.p10[first]! >= p.min[first]! && p.p90[first]! <= p.max[first]! && p.p25[first]! <= p.median[first]! && p.p75[first]! >= p.median[first]!);
});

test('5-minute buckets: the same numbers from raw rounds (the tail) as from the stored rollups', async () => {
  const q = { device: DEV, from: T0 - 86_400_000 + 20 * 60_000, to: T0 + 20 * 60_000 };
  // Before the rollups are computed, the whole range is the raw tail (within 6 h of the end).
  const tail = await chartData(store, q);
  assert.equal(tail.stepS, 300);
  await store.refreshRollups(T0 + 3600_000, 0, 1000);
  const rolled = await chartData(store, q);
  assert.deepEqual(rolled, tail);
  const p = rolled.probes[0]!;
  // Buckets 10:00 to 10:15: the outage (10:08-10:13) takes only part of 10:05 and 10:10.
  assert.deepEqual(p.t.map((t) => (t * 1000 - 150_000 - T0) / 60_000), [0, 5, 10, 15]);
  assert.equal(p.median.every((v) => v !== null), true);
  // The 10:00 bucket holds the round of total loss: 1 of 60 rounds, 4 of 240 packets.
  assert.equal(p.loss[0], Math.round((4 / 240) * 100_000) / 1000);
});

test('1-hour buckets, and a bucket with no rounds between two with rounds becomes a null row', async () => {
  // A second probe with rounds at 10:00 and 12:00 only: the 11:00 bucket is missing.
  const extra = [T0, T0 + 2 * 3600_000].map((ts, i) => ({ seq: 1000 + i, ...result('sparse', ts, [3, 3, 3]) }));
  await store.ingest([{ kind: 'telemetry', device: DEV, stream: 's1', results: extra, at: T0 + 3 * 3600_000 }]);
  await store.refreshRollups(T0 + 4 * 3600_000, 0, 1000);
  const d = await chartData(store, { device: DEV, target: 'sparse', from: T0 - 29 * 86_400_000, to: T0 + 3 * 3600_000 });
  assert.equal(d.stepS, 3600);
  const p = d.probes[0]!;
  assert.equal(p.name, 'sparse');
  assert.deepEqual(p.t.map((t) => (t * 1000 - T0) / 3600_000), [0.5, 1.5, 2.5]);
  assert.deepEqual(p.median, [3, null, 3]);
  assert.deepEqual(p.loss, [0, null, 0]);
});

test('sparkline: one value per 5-minute bucket over 6 h, the mean of the probes\' medians, null where nothing ran', async () => {
  const to = T0 + 20 * 60_000;
  const d = await chartData(store, { device: DEV, from: to - 6 * 3600_000, to, stepS: 300 });
  const s = sparkline(d);
  assert.equal(s.length, 72);
  assert.equal(s.slice(0, 68).every((v) => v === null), true);
  assert.equal(s.slice(68).every((v) => v !== null), true);
  const lo = d.probes.find((p) => p.name === 'lo')!;
  const sp = d.probes.find((p) => p.name === 'sparse')!;
  assert.equal(s[68], Math.round(((lo.median[0]! + sp.median[0]!) / 2) * 1000) / 1000);
});
