import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ProbeResult } from '../../agent/core/result.js';
import { integrity, openTestOutbox, rawDb, round, sampleResult, tempDir } from '../helpers/outbox-fixtures.js';

function countRows(path: string): { n: number; bytes: number } {
  const db = rawDb(path);
  try {
    return db.prepare<[], { n: number; bytes: number }>('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM results').get()!;
  } finally {
    db.close();
  }
}

test('append is one transaction: a round that fails part-way leaves nothing, not even used seqs', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  outbox.append(round(0, 2));
  // The third row violates NOT NULL (ts) after two rows of the round were inserted.
  const bad = [...round(10, 2), { ...sampleResult(12), ts: null } as unknown as ProbeResult, ...round(13, 2)];
  assert.throws(() => outbox.append(bad), /NOT NULL/);
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [1, 2]);
  assert.deepEqual(outbox.append(round(20, 1)), [3]);
  const s = outbox.stats();
  assert.equal(s.rows, 3);
  assert.equal(s.generated_total, 3);
  outbox.close();
  assert.equal(countRows(path).n, 3);
});

test('take: oldest first, after a seq, at most maxItems and maxBytes, always at least one', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  const results = round(0, 10);
  outbox.append(results.slice(0, 4));
  outbox.append(results.slice(4));
  const size = (i: number): number => Buffer.byteLength(JSON.stringify(results[i]));

  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(outbox.take(3, 4, 1e9).map((i) => i.seq), [4, 5, 6, 7]);
  assert.deepEqual(outbox.take(10, 4, 1e9), []);
  assert.deepEqual(outbox.take(0, 0, 1e9), []);
  // maxBytes counts the UTF-8 bytes of the JSON: exactly two records fit, a byte less only one.
  assert.deepEqual(outbox.take(0, 100, size(0) + size(1)).map((i) => i.seq), [1, 2]);
  assert.deepEqual(outbox.take(0, 100, size(0) + size(1) - 1).map((i) => i.seq), [1]);
  assert.deepEqual(outbox.take(0, 100, 1).map((i) => i.seq), [1], 'one item even when it alone exceeds maxBytes');
  // take does not remove anything: that is ack's job
  assert.equal(outbox.stats().rows, 10);
  outbox.close();
});

test('ack deletes, counts only rows it deleted, records the delivery time', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let clock = Date.UTC(2025, 5, 1, 12, 0, 0);
  const { outbox } = openTestOutbox(path, { now: () => new Date(clock) });
  outbox.append(round(0, 10));
  assert.equal(outbox.stats().last_delivery, null);
  outbox.ack([1, 2, 3, 5, 9]); // runs 1-3, 5, 9
  clock += 1000;
  outbox.ack([3, 4, 4, 42]); // 3 again, 42 never existed
  const s = outbox.stats();
  assert.equal(s.delivered_total, 6);
  assert.equal(s.last_delivery, '2025-06-01T12:00:01.000Z');
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [6, 7, 8, 10]);
  assert.equal(s.rows, 4);
  outbox.ack([]);
  assert.equal(outbox.stats().delivered_total, 6);
  outbox.close();
  const c = countRows(path);
  assert.equal(c.n, 4);
  assert.equal(c.bytes, s.bytes);
});

test('drop deletes and counts into dropped_total, and says so in a rate-limited warn line', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let clock = Date.UTC(2025, 5, 1);
  const { outbox, log } = openTestOutbox(path, { now: () => new Date(clock) });
  outbox.append(round(0, 10));
  outbox.drop([1, 2], 'rejected by broker: too large');
  assert.deepEqual(log.at('warn'), ['outbox: dropped 2 unsent results (rejected by broker: too large); 2 dropped in total']);
  clock += 10_000;
  outbox.drop([3], 'rejected by broker: too large');
  outbox.drop([4], 'rejected by broker: too large');
  assert.equal(log.at('warn').length, 1, 'held back within the minute');
  clock += 60_000;
  outbox.drop([5], 'rejected by broker: too large');
  assert.equal(log.at('warn')[1], 'outbox: dropped 3 unsent results in the last 60 s (rejected by broker: too large); 5 dropped in total');
  outbox.drop([6], 'rejected by broker: too large');
  const s = outbox.stats();
  assert.equal(s.dropped_total, 6);
  assert.equal(s.rows, 4);
  assert.equal(s.delivered_total, 0);
  outbox.close();
  assert.equal(log.at('warn')[2], 'outbox: dropped 1 unsent result (rejected by broker: too large); 6 dropped in total', 'flushed at close');
});

test('stats match the table, and the counters survive a restart', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let { outbox } = openTestOutbox(path);
  for (let i = 0; i < 50; i++) outbox.append(round(i * 7, 1 + (i % 7), { packets: 1 + (i % 30) }));
  const batch = outbox.take(0, 40, 1e9);
  outbox.ack(batch.slice(0, 30).map((i) => i.seq));
  outbox.drop(batch.slice(30).map((i) => i.seq), 'test');
  const before = outbox.stats();
  outbox.close();
  ({ outbox } = openTestOutbox(path));
  const after = outbox.stats();
  outbox.close();
  assert.deepEqual({ ...after, file_bytes: 0 }, { ...before, file_bytes: 0 });
  const c = countRows(path);
  assert.equal(after.rows, c.n);
  assert.equal(after.bytes, c.bytes);
  assert.equal(after.delivered_total + after.dropped_total + c.n, after.generated_total);
  assert.equal(after.oldest, JSON.parse(outboxFirstJson(path)).ts);
  assert.equal(integrity(path), 'ok');
});

function outboxFirstJson(path: string): string {
  const db = rawDb(path);
  try {
    return db.prepare<[], { json: string }>('SELECT json FROM results ORDER BY seq LIMIT 1').get()!.json;
  } finally {
    db.close();
  }
}
