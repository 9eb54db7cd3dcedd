// The health rule behind the watchdog pings (agent/service/health.ts), on a fake clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operationalSchema, type OperationalConfig } from '../../agent/config/schema.js';
import type { Outbox, OutboxStats } from '../../agent/core/outbox.js';
import type { ProbeResult } from '../../agent/core/result.js';
import { HealthMonitor, longestCronGapMs } from '../../agent/service/health.js';
import { type AppendRecord, WatchedOutbox } from '../../agent/service/outbox-watch.js';

function ops(probes: Record<string, unknown>[], agent: Record<string, unknown> = {}): OperationalConfig {
  return operationalSchema.parse({ agent_operations: agent, probes });
}

const lo = { name: 'lo', ip_address: '127.0.0.1', count: 2, interval_ms: 50, timeout_ms: 500 };

class Fake {
  t = 1_000_000;
  current: OperationalConfig | null = null;
  record: AppendRecord = { lastAttempt: null, lastSuccess: null, failureStreak: 0 };
  monitor(): HealthMonitor {
    return new HealthMonitor({ operational: () => this.current, appends: () => this.record, now: () => this.t, wallNow: () => new Date('2026-01-05T00:00:00Z') });
  }
  round(ok = true): void {
    this.record = { lastAttempt: this.t, lastSuccess: ok ? this.t : this.record.lastSuccess, failureStreak: ok ? 0 : this.record.failureStreak + 1 };
  }
}

test('stall limit: 2 x (period + round duration) of the fastest probe, plus 10 s', () => {
  const m = new Fake().monitor();
  // 1 s + (2 - 1) x 50 ms + 500 ms = 1.55 s -> 2 x 1.55 + 10 = 13.1 s
  assert.equal(m.stallLimitMs(ops([lo], { probe_interval: 1 })), 13_100);
  // Defaults: 60 s, count 4, interval 1 s, timeout 1 s -> 2 x 64 + 10 = 138 s
  assert.equal(m.stallLimitMs(ops([{ name: 'gw', ip_address: '192.0.2.1' }])), 138_000);
  // The fastest probe sets it; a probe's own probe_interval overrides the default.
  assert.equal(m.stallLimitMs(ops([{ name: 'slow', ip_address: '192.0.2.1' }, { ...lo, probe_interval: 5 }])), 2 * 5_550 + 10_000);
  // A host name gets 30 s for DNS (glibc's worst case with default resolv.conf options).
  assert.equal(m.stallLimitMs(ops([{ ...lo, ip_address: 'gw.example.net' }], { probe_interval: 1 })), 2 * 31_550 + 10_000);
  // Cron: the longest gap of the schedule (weekdays at 09:00: Friday to Monday, 72 h).
  assert.equal(m.stallLimitMs(ops([{ ...lo, cron: '0 9 * * 1-5' }])), 2 * (72 * 3_600_000 + 550) + 10_000);
  // Nothing expected: monitoring off, or no probes.
  assert.equal(m.stallLimitMs(ops([lo], { monitoring_enabled: false })), null);
  assert.equal(m.stallLimitMs(ops([])), null);
});

test('cron: each distinct expression is worked out once, at most 16 of them (the rest only lengthen the limit)', () => {
  const m = new Fake().monitor();
  const hourly = Array.from({ length: 16 }, (_, i) => ({ ...lo, name: `h${i}`, cron: `${i} * * * *` }));
  const fast = { ...lo, name: 'fast', cron: '*/10 * * * * *' };
  assert.equal(m.stallLimitMs(ops([fast, ...hourly])), 2 * 10_550 + 10_000);
  assert.equal(m.stallLimitMs(ops([...hourly, fast])), 2 * 3_600_550 + 10_000);
});

test('longestCronGapMs: every 10 s, hourly, and an unreadable expression', () => {
  const from = new Date('2026-01-05T00:00:00Z');
  assert.equal(longestCronGapMs('*/10 * * * * *', from), 10_000);
  assert.equal(longestCronGapMs('0 * * * *', from), 3_600_000);
  assert.equal(longestCronGapMs('not cron', from), Infinity);
});

test('healthy while rounds complete within the limit; unhealthy past it; healthy again on the next round', () => {
  const f = new Fake();
  f.current = ops([lo], { probe_interval: 1 });
  const m = f.monitor();
  assert.deepEqual(m.check(), { healthy: true, reason: null });
  // Before the first round the limit runs from the moment the schedule was first seen.
  f.t += 13_100;
  assert.equal(m.check().healthy, true);
  f.t += 1;
  assert.deepEqual(m.check(), { healthy: false, reason: 'probe loop stalled: no probe round completed yet for 13 s (limit 13 s)' });
  f.round();
  assert.equal(m.check().healthy, true);
  f.t += 20_000;
  assert.deepEqual(m.check(), { healthy: false, reason: 'probe loop stalled: no probe round completed for 20 s (limit 13 s)' });
  f.round();
  assert.equal(m.check().healthy, true);
});

test('a round whose results could not be stored still counts as a tick; two such in a row mean the outbox is not writable', () => {
  const f = new Fake();
  f.current = ops([lo], { probe_interval: 1 });
  const m = f.monitor();
  f.t += 1000;
  f.round(false);
  assert.equal(m.check().healthy, true, 'one failure can be passing');
  f.t += 1000;
  f.round(false);
  assert.deepEqual(m.check(), { healthy: false, reason: 'outbox not writable: the last 2 rounds could not be stored' });
  f.t += 1000;
  f.round(true);
  assert.equal(m.check().healthy, true, 'one stored round and it is writable again');
});

test('monitoring disabled or no probes: no rounds expected, healthy however long it is quiet', () => {
  const f = new Fake();
  f.current = ops([lo], { monitoring_enabled: false });
  const m = f.monitor();
  f.t += 86_400_000;
  assert.equal(m.check().healthy, true);
  f.current = ops([]);
  f.t += 86_400_000;
  assert.equal(m.check().healthy, true);
  // The outbox rule still holds (a probe-now command appends too).
  f.round(false);
  f.round(false);
  assert.equal(m.check().healthy, false);
});

test('a new schedule (remote config) restarts the limit from when it was first seen', () => {
  const f = new Fake();
  f.current = ops([{ name: 'gw', ip_address: '192.0.2.1' }]); // limit 138 s
  const m = f.monitor();
  f.t += 100_000;
  assert.equal(m.check().healthy, true);
  f.current = ops([lo], { probe_interval: 1 }); // limit 13.1 s
  assert.equal(m.check().healthy, true, 'not judged by the old schedule');
  f.t += 13_000;
  assert.equal(m.check().healthy, true);
  f.t += 200;
  assert.equal(m.check().healthy, false);
  // Monitoring switched off while stalled: nothing to wait for.
  f.current = ops([lo], { monitoring_enabled: false });
  assert.equal(m.check().healthy, true);
});

test('before the agent applies a schedule nothing is expected', () => {
  const f = new Fake();
  const m = f.monitor();
  f.t += 3_600_000;
  assert.equal(m.check().healthy, true);
});

const result: ProbeResult = {
  schema: 1, type: 'icmp', name: 'lo', target: '127.0.0.1', address: '127.0.0.1', family: 4, ts: '2026-01-05T00:00:00.000Z', size: 56,
  sent: 1, received: 1, duplicates: 0, late: 0, loss_pct: 0, min_ms: 0.1, avg_ms: 0.1, max_ms: 0.1, mdev_ms: 0, median_ms: 0.1,
  jitter_ms: null, rtts_ms: [0.1], ttl: 64, errors: [],
};

test('WatchedOutbox records each append (time, success, failure streak), rethrows, and delegates the rest', () => {
  let fail = false;
  const calls: string[] = [];
  const stats = { rows: 7 } as OutboxStats;
  const inner: Outbox = {
    stream: 'abc',
    append: (r) => {
      calls.push(`append ${r.length}`);
      if (fail) throw new Error('disk I/O error');
      return [1];
    },
    take: () => (calls.push('take'), []),
    ack: () => void calls.push('ack'),
    flush: () => void calls.push('flush'),
    drop: (_s, why) => void calls.push(`drop ${why}`),
    stats: () => stats,
    close: () => void calls.push('close'),
  };
  let t = 5;
  const w = new WatchedOutbox(inner, () => t);
  assert.deepEqual(w.appends, { lastAttempt: null, lastSuccess: null, failureStreak: 0 });
  assert.deepEqual(w.append([result]), [1]);
  assert.deepEqual(w.appends, { lastAttempt: 5, lastSuccess: 5, failureStreak: 0 });
  fail = true;
  t = 6;
  assert.throws(() => w.append([result]), /disk I\/O error/);
  t = 7;
  assert.throws(() => w.append([result]), /disk I\/O error/);
  assert.deepEqual(w.appends, { lastAttempt: 7, lastSuccess: 5, failureStreak: 2 });
  fail = false;
  t = 8;
  w.append([result]);
  assert.deepEqual(w.appends, { lastAttempt: 8, lastSuccess: 8, failureStreak: 0 });
  assert.equal(w.stream, 'abc');
  w.take(0, 1, 1);
  w.ack([1]);
  w.flush();
  w.drop([1], 'too big');
  assert.equal(w.stats(), stats);
  w.close();
  assert.deepEqual(calls, ['append 1', 'append 1', 'append 1', 'append 1', 'take', 'ack', 'flush', 'drop too big', 'close']);
});
