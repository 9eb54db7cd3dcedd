import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { integrity, onDiskBytes, openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';

const MiB = 1024 * 1024;

function table(path: string): { n: number; lo: number; hi: number } {
  const db = rawDb(path);
  try {
    return db.prepare<[], { n: number; lo: number; hi: number }>('SELECT count(*) AS n, coalesce(min(seq), 0) AS lo, coalesce(max(seq), 0) AS hi FROM results').get()!;
  } finally {
    db.close();
  }
}

test('max_mb: a long run without acks stays within max_mb (+ one round + 64 KiB), drops the oldest, counts exactly', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox, log } = openTestOutbox(path, { max_mb: 2 });
  let generated = 0;
  let maxOver = -Infinity;
  let maxRound = 0;
  let delivered = 0;
  for (let i = 0; generated < 25_000; i++) {
    const r = round(generated, 1 + (i % 20), { packets: 1 + ((i * 7) % 60) });
    maxRound = Math.max(maxRound, Buffer.byteLength(JSON.stringify(r)));
    outbox.append(r);
    generated += r.length;
    if (i % 50 === 49) {
      // Now and then the uplink delivers a few, so that all three counters move.
      const batch = outbox.take(0, 20, 1e9);
      outbox.ack(batch.map((b) => b.seq));
      delivered += batch.length;
    }
    maxOver = Math.max(maxOver, onDiskBytes(path) - 2 * MiB);
  }
  const slack = 1.1 * maxRound + 64 * 1024;
  assert.ok(maxOver <= slack, `on disk exceeded max_mb by ${maxOver} bytes (allowed ${slack})`);
  const s = outbox.stats();
  assert.equal(s.generated_total, generated);
  assert.equal(s.delivered_total, delivered);
  assert.ok(s.dropped_total > generated / 2, `dropped ${s.dropped_total}`);
  const warns = log.at('warn');
  assert.ok(warns.length >= 1 && warns.length <= 3, `rate-limited warn lines: ${warns.length}`);
  assert.match(warns[0]!, /^outbox: dropped \d+ unsent results \(max_mb 2 reached\); \d+ dropped in total$/);
  outbox.close();

  const tb = table(path);
  assert.equal(s.delivered_total + tb.n + s.dropped_total, generated, 'delivered + queued + dropped == generated');
  assert.equal(tb.n, s.rows);
  assert.equal(tb.hi, generated);
  assert.equal(tb.hi - tb.lo + 1, tb.n, 'what is left is the newest, without gaps: the oldest went first');
  assert.equal(integrity(path), 'ok');
});

test('max_mb lowered between runs: the excess is dropped at open and the file shrinks', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let { outbox } = openTestOutbox(path, { max_mb: 4 });
  for (let i = 0; i < 1000; i++) outbox.append(round(i * 10, 10, { packets: 20 }));
  outbox.close();
  assert.ok(statSync(path).size > 3 * MiB);
  let log;
  ({ outbox, log } = openTestOutbox(path, { max_mb: 1 }));
  const s = outbox.stats();
  assert.ok(s.dropped_total > 0);
  assert.ok(onDiskBytes(path) <= 1 * MiB + 64 * 1024, `on disk ${onDiskBytes(path)}`);
  assert.equal(log.at('warn').length, 1);
  assert.equal(outbox.integrityCheck(), 'ok');
  outbox.close();
  assert.ok(statSync(path).size <= 1 * MiB);
  assert.equal(table(path).n, s.rows);
});

test('max_age_days: rows older than the limit are dropped (oldest first), counted and logged', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const day = 86_400_000;
  let clock = Date.UTC(2025, 2, 1);
  const at = (ms: number) => new Date(ms).toISOString();
  let { outbox, log } = openTestOutbox(path, { max_age_days: 2, now: () => new Date(clock) });
  for (let d = 0; d < 3; d++) {
    outbox.append(round(d * 10, 10, { ts: at(clock) }));
    clock += day;
  }
  // Days 0, 1, 2 appended; the round of day 0 was exactly 2 days old at the last append: kept.
  assert.equal(outbox.stats().rows, 30);
  clock += day / 2; // day 3.5: days 0 and 1 are now too old, and go with the next append
  outbox.append(round(30, 10, { ts: at(clock) }));
  let s = outbox.stats();
  assert.equal(s.dropped_total, 20);
  assert.equal(s.rows, 20);
  assert.equal(s.oldest, at(Date.UTC(2025, 2, 3)));
  assert.deepEqual(log.at('warn'), ['outbox: dropped 20 unsent results (older than max_age_days 2); 20 dropped in total']);
  outbox.close();

  clock += day / 2; // day 4, and a lower limit: day 2 goes at open
  ({ outbox, log } = openTestOutbox(path, { max_age_days: 1, now: () => new Date(clock) }));
  s = outbox.stats();
  assert.equal(s.dropped_total, 30, 'a lower max_age_days applies at open');
  assert.equal(s.rows, 10);
  assert.equal(s.generated_total, 40);
  assert.equal(log.at('warn').length, 1);
  outbox.close();
});
