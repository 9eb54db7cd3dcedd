import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openTestOutbox, rawDb, round, sampleResult, tempDir } from '../helpers/outbox-fixtures.js';

test('seqs increase across restarts and are never reused after deletes', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let { outbox } = openTestOutbox(path);
  assert.deepEqual(outbox.append(round(0, 3)), [1, 2, 3]);
  assert.deepEqual(outbox.append(round(3, 2)), [4, 5]);
  outbox.ack([4, 5]); // the newest rows: a plain rowid table would hand 4 out again
  assert.deepEqual(outbox.append(round(5, 1)), [6]);
  outbox.close();

  ({ outbox } = openTestOutbox(path));
  outbox.ack([1, 2, 3, 6]); // now empty
  outbox.close();
  ({ outbox } = openTestOutbox(path));
  assert.equal(outbox.stats().rows, 0);
  assert.deepEqual(outbox.append(round(6, 2)), [7, 8]);
  assert.equal(outbox.stats().generated_total, 8);
  outbox.close();
  outbox.close(); // idempotent
  assert.throws(() => outbox.append(round(8, 1)), /used after close/);
});

test('the stream id is made with the database, kept across reopen, new for a new file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  let { outbox } = openTestOutbox(path);
  const first = outbox.stream;
  assert.match(first, /^[0-9a-f]{32}$/);
  outbox.append(round(0, 2));
  outbox.close();

  ({ outbox } = openTestOutbox(path));
  assert.equal(outbox.stream, first);
  assert.equal(outbox.stats().stream, first);
  outbox.close();

  for (const f of ['outbox.db', 'outbox.db-wal', 'outbox.db-shm']) rmSync(join(dir, f), { force: true });
  ({ outbox } = openTestOutbox(path));
  assert.notEqual(outbox.stream, first);
  assert.deepEqual(outbox.append(round(0, 1)), [1]); // a new stream starts its seqs anew
  outbox.close();

  ({ outbox } = openTestOutbox(join(dir, 'other.db')));
  assert.notEqual(outbox.stream, first);
  outbox.close();
});

test('each record is stored once as its exact JSON, with its ts', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  const r = { ...sampleResult(7, { packets: 3 }), name: 'café ☕', errors: [{ kind: 'icmp' as const, type: 3, code: 1, from: '198.18.0.1', message: 'host unreachable', count: 2 }] };
  const [seq] = outbox.append([r]);
  const [item] = outbox.take(0, 10, 1e9);
  assert.ok(item !== undefined);
  assert.deepEqual({ seq: item.seq, ts: item.ts, json: item.json }, { seq, ts: r.ts, json: JSON.stringify(r) });
  outbox.close();

  const db = rawDb(path);
  const row = db.prepare<[], { ts: string; bytes: number; json: string }>('SELECT ts, bytes, json FROM results').get();
  assert.deepEqual(row, { ts: r.ts, bytes: Buffer.byteLength(JSON.stringify(r)), json: JSON.stringify(r) });
  db.close();
});
