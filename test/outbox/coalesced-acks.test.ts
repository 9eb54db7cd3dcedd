// Acks are committed together (Outbox.ack): when, what a crash in between does, and that
// counters stay exact. The file is looked at through a second connection, since the
// outbox's own stats() commits pending acks first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ACK_FLUSH_ROWS } from '../../agent/outbox/delivery.js';
import { openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';

interface InFile {
  rows: number;
  delivered: number;
  dropped: number;
  generated: number;
  lastDelivery: string | null;
}

function inFile(path: string): InFile {
  const db = rawDb(path);
  try {
    const meta = new Map(db.prepare<[], { key: string; value: unknown }>('SELECT key, value FROM meta').all().map((r) => [r.key, r.value]));
    const rows = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM results').get()!.n;
    const last = meta.get('last_delivery');
    return { rows, delivered: Number(meta.get('delivered_total')), dropped: Number(meta.get('dropped_total')), generated: Number(meta.get('generated_total')), lastDelivery: typeof last === 'string' ? last : null };
  } finally {
    db.close();
  }
}

test('ack() is committed by flush(): until then the rows are in the file; last_delivery is the latest ack, not the flush', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let clock = Date.UTC(2025, 5, 1, 12, 0, 0);
  const { outbox } = openTestOutbox(path, { now: () => new Date(clock) });
  outbox.append(round(0, 10));
  outbox.ack([1, 2, 3]);
  clock += 5000;
  outbox.ack([5, 4]);
  clock += 5000;
  assert.deepEqual(inFile(path), { rows: 10, delivered: 0, dropped: 0, generated: 10, lastDelivery: null });
  outbox.flush();
  assert.deepEqual(inFile(path), { rows: 5, delivered: 5, dropped: 0, generated: 10, lastDelivery: '2025-06-01T12:00:05.000Z' });
  outbox.flush(); // nothing pending: no transaction, nothing changes
  assert.equal(inFile(path).delivered, 5);
  outbox.close();
});

test('enough pending acks are committed at once, never more than ACK_FLUSH_ROWS held back', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  const n = 2 * ACK_FLUSH_ROWS + 700;
  for (let i = 0; i < n; i += 1000) outbox.append(round(i, Math.min(1000, n - i)));
  let acked = 0;
  let commits = 0;
  for (let after = 0; ; ) {
    const batch = outbox.take(after, 500, 1e12);
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!.seq;
    const before = inFile(path).delivered;
    outbox.ack(batch.map((i) => i.seq));
    acked += batch.length;
    const f = inFile(path);
    if (f.delivered > before) commits++;
    assert.ok(acked - f.delivered < ACK_FLUSH_ROWS, `${acked - f.delivered} acks held back`);
    assert.equal(f.rows + f.delivered, n);
  }
  assert.ok(commits >= 2 && commits <= Math.ceil(n / 500) / 2, `${commits} commits for ${Math.ceil(n / 500)} acks`);
  outbox.flush();
  const f = inFile(path);
  assert.equal(f.rows, 0);
  assert.equal(f.delivered, n);
  outbox.close();
});

test('take() at or below a pending ack commits it first: a rewind never hands out delivered rows', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  outbox.append(round(0, 10));
  const first = outbox.take(0, 5, 1e9).map((i) => i.seq);
  outbox.ack(first);
  assert.deepEqual(outbox.take(5, 100, 1e9).map((i) => i.seq), [6, 7, 8, 9, 10]);
  assert.equal(inFile(path).rows, 10, 'reading on after the acked rows commits nothing');
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [6, 7, 8, 9, 10]);
  assert.equal(inFile(path).rows, 5);
  outbox.close();
});

test('append() commits pending acks before its bounds: delivered rows are never dropped as undelivered', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path, { max_mb: 1 });
  let i = 0;
  while (outbox.stats().dropped_total === 0) outbox.append(round(i++ * 50, 50, { packets: 20 }));
  // The oldest rows are the next to go: deliver some (few enough to be held back: the WAL
  // share of max_mb 1 is small), then append rounds that trim.
  const oldest = outbox.take(0, 20, 1e12).map((x) => x.seq);
  outbox.ack(oldest);
  assert.equal(inFile(path).delivered, 0, 'held back');
  for (let k = 0; k < 5; k++) outbox.append(round(i++ * 50, 50, { packets: 20 }));
  const s = outbox.stats();
  assert.ok(s.rows > 0 && outbox.take(0, 1, 1e12)[0]!.seq > oldest[oldest.length - 1]!, 'the trim reached past them');
  assert.equal(s.delivered_total, 20);
  assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
  outbox.close();
});

test('stats() and close() commit pending acks', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let { outbox } = openTestOutbox(path);
  outbox.append(round(0, 10));
  outbox.ack([1, 2]);
  assert.equal(outbox.stats().delivered_total, 2);
  assert.equal(inFile(path).rows, 8);
  outbox.ack([3, 4, 5]);
  outbox.close();
  const f = inFile(path);
  assert.equal(f.rows, 5);
  assert.equal(f.delivered, 5);
  ({ outbox } = openTestOutbox(path));
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [6, 7, 8, 9, 10]);
  outbox.close();
  assert.throws(() => outbox.ack([6]), /used after close/);
});

test('a crash between ack() and its commit: the rows are still stored (sent again), counted once', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const child = join(dirname(fileURLToPath(import.meta.url)), 'ack-crash-child.js');
  // The child appends 20, acks 1..12 (held back: too few to commit), then SIGKILLs itself.
  const r = spawnSync(process.execPath, [child, path], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, 'SIGKILL', `child: ${r.stderr}`);
  assert.match(r.stdout, /acked 12 of 20/);
  const f = inFile(path);
  assert.deepEqual({ rows: f.rows, delivered: f.delivered, generated: f.generated }, { rows: 20, delivered: 0, generated: 20 });
  const { outbox } = openTestOutbox(path);
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), Array.from({ length: 20 }, (_, k) => k + 1), 'all of them, to be sent again');
  outbox.ack(outbox.take(0, 100, 1e9).map((i) => i.seq));
  const s = outbox.stats();
  assert.equal(s.delivered_total, 20, 'each counted once');
  assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
  outbox.close();
});
