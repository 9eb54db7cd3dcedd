// A Pi upgrading with a backlog: an outbox.db of schema 1 (one `results` table, seqs from
// AUTOINCREMENT) must open with every queued row, its stream, seqs and counters.
//
// fixtures/outbox-v1.db was made by the agent before schema 2 (commit 97a6361), with
// max_mb 64, synchronous full and a clock at 2026-11-01T00:00:00Z + 1 s per call:
//   append(round(0, 20)); append(round(20, 20)); ack([1, 2, 3, 4, 5, 9, 17]); drop([6]);
//   flush(); append(round(40, 10)); ack([48, 49, 50]); close()
// so its table has holes (9, 17), and its last seq (50) is above its newest row (47).
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportOutbox, readOutboxStats } from '../../agent/outbox/index.js';
import { dirSnapshot, integrity, openTestOutbox, rawDb, round, sampleResult, tempDir } from '../helpers/outbox-fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
// tsc does not copy the fixture into dist: read it from the source tree.
const FIXTURE = join(here, '..', '..', '..', 'test', 'outbox', 'fixtures', 'outbox-v1.db');

const BEFORE = {
  stream: '751988c5281b78981162cb6c4e72a834',
  rows: 39,
  bytes: 14285,
  oldest: '2025-01-01T00:00:06.000Z',
  newest: '2025-01-01T00:00:46.000Z',
  dropped_total: 1,
  generated_total: 50,
  delivered_total: 10,
  last_delivery: '2026-11-01T00:00:04.000Z',
  corrupt_total: 0,
};
const QUEUED = Array.from({ length: 41 }, (_, k) => k + 7).filter((s) => s !== 9 && s !== 17);

const userVersion = (path: string): number => {
  const db = rawDb(path);
  try {
    return Number(db.pragma('user_version', { simple: true }));
  } finally {
    db.close();
  }
};

test('a schema 1 outbox made by the previous agent: read-only tools read it as it is, the agent migrates it keeping everything', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  copyFileSync(FIXTURE, path);
  assert.equal(userVersion(path), 1);

  // `fleetprobe outbox stats|export` before the upgraded service started: nothing changes.
  const untouched = dirSnapshot(dir);
  assert.deepEqual({ ...readOutboxStats(path), file_bytes: 0 }, { ...BEFORE, file_bytes: 0 });
  const lines: string[] = [];
  assert.equal(exportOutbox(path, (l) => lines.push(l)), 39);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { seq: number }).seq), QUEUED);
  assert.deepEqual(dirSnapshot(dir), untouched);

  let { outbox } = openTestOutbox(path, { synchronous: 'full' });
  assert.equal(outbox.stream, BEFORE.stream);
  assert.deepEqual({ ...outbox.stats(), file_bytes: 0 }, { ...BEFORE, file_bytes: 0 });
  const items = outbox.take(0, 100, 1e9);
  assert.deepEqual(items.map((i) => i.seq), QUEUED);
  assert.deepEqual(items.map((i) => `{"seq":${i.seq},${i.json.slice(1)}`), lines, 'the same records, byte for byte');
  assert.deepEqual(items.map((i) => i.ts), QUEUED.map((s) => sampleResult(s - 1).ts));
  assert.deepEqual(outbox.append(round(50, 3)), [51, 52, 53], 'seqs continue after the last one handed out');
  outbox.close();
  assert.equal(userVersion(path), 2);
  assert.equal(integrity(path), 'ok');

  // Reopened (no second migration), the old rows are delivered, the new ones stay.
  ({ outbox } = openTestOutbox(path, { synchronous: 'full' }));
  outbox.ack(QUEUED);
  const s = outbox.stats();
  assert.equal(s.delivered_total, 10 + 39);
  assert.equal(s.rows, 3);
  assert.equal(s.generated_total, 53);
  assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
  assert.deepEqual(outbox.take(0, 100, 1e9).map((i) => i.seq), [51, 52, 53]);
  outbox.close();
  assert.equal(integrity(path), 'ok');
});

/** A schema 1 database as the previous agent created it (its DDL, meta rows and pragmas). */
function makeV1(path: string, rows: number, deleteRanges: Array<[number, number]>, lastSeq = rows): { queued: number[]; bytes: number } {
  const db = new Database(path);
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  const records = round(0, rows);
  db.transaction(() => {
    db.exec(`CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, bytes INTEGER NOT NULL, json TEXT NOT NULL);
             CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;`);
    const ins = db.prepare<[string, number, string]>('INSERT INTO results (ts, bytes, json) VALUES (?, ?, ?)');
    for (const r of records) ins.run(r.ts, Buffer.byteLength(JSON.stringify(r)), JSON.stringify(r));
    let delivered = 0;
    for (const [lo, hi] of deleteRanges) delivered += db.prepare('DELETE FROM results WHERE seq BETWEEN ? AND ?').run(lo, hi).changes;
    db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'results'").run(lastSeq);
    const left = db.prepare<[], { n: number; b: number }>('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM results').get()!;
    const put = db.prepare<[string, string | number | null]>('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (const [k, v] of Object.entries({ stream: 'ab'.repeat(16), created: '2026-01-01T00:00:00.000Z', seq_reserved: 0, generated_total: lastSeq, dropped_total: lastSeq - rows, delivered_total: delivered, last_delivery: null, corrupt_total: 0, queued_bytes: left.b })) put.run(k, v);
    db.pragma('application_id = 1718644578');
    db.pragma('user_version = 1');
  })();
  const queued = db.prepare<[], { seq: number }>('SELECT seq FROM results ORDER BY seq').all().map((r) => r.seq);
  const bytes = db.prepare<[], { b: number }>('SELECT coalesce(sum(bytes), 0) AS b FROM results').get()!.b;
  db.close();
  return { queued, bytes };
}

test('schema 1 with a larger backlog and holes: migrated, then delivered to the end while new rounds come in', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const v1 = makeV1(path, 3000, [[1, 100], [500, 520], [1000, 1000], [2990, 3000]], 3010);
  const { outbox } = openTestOutbox(path, { max_mb: 4 });
  let s = outbox.stats();
  assert.equal(s.rows, v1.queued.length);
  assert.equal(s.bytes, v1.bytes);
  assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
  const taken: number[] = [];
  let next = 3011;
  for (let after = 0; ; ) {
    const batch = outbox.take(after, 128, 1e9);
    if (batch.length === 0) break;
    taken.push(...batch.map((i) => i.seq));
    after = batch[batch.length - 1]!.seq;
    outbox.ack(batch.map((i) => i.seq));
    // Live rounds keep coming (max_mb 4 makes segments of ~0.5 MB: new ones get made).
    if (taken.length % 512 === 0) assert.deepEqual(outbox.append(round(next, 4)), [next, next + 1, next + 2, next + 3]);
    if (taken.length % 512 === 0) next += 4;
  }
  const fresh = Array.from({ length: next - 3011 }, (_, k) => 3011 + k);
  assert.deepEqual(taken, [...v1.queued, ...fresh], 'every old row once, in order, then the new ones');
  s = outbox.stats();
  assert.equal(s.rows, 0);
  assert.equal(s.bytes, 0);
  assert.equal(s.dropped_total, 10, 'only what the previous agent had dropped');
  assert.equal(s.generated_total, s.delivered_total + s.dropped_total);
  outbox.close();
  const db = rawDb(path);
  try {
    assert.deepEqual(db.prepare('SELECT * FROM segments').all(), [], 'every segment emptied');
    assert.deepEqual(db.prepare('SELECT * FROM gone').all(), []);
    assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM results').get()!.n, 0);
  } finally {
    db.close();
  }
  assert.equal(integrity(path), 'ok');
});

test('schema 1 with no rows left: the next seq still follows the last one handed out', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  makeV1(path, 20, [[1, 20]], 500);
  const { outbox } = openTestOutbox(path);
  assert.equal(outbox.stats().rows, 0);
  assert.deepEqual(outbox.append(round(0, 2)), [501, 502]);
  outbox.close();
  assert.equal(integrity(path), 'ok');
});
