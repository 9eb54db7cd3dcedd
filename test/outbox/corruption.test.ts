import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { integrity, openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';

const PAGE = 4096;

/** An outbox of ~300 pages, closed (everything checkpointed into the file). */
function filled(path: string): { stream: string; lastSeq: number } {
  const { outbox } = openTestOutbox(path);
  for (let i = 0; i < 100; i++) outbox.append(round(i * 10, 10, { packets: 20 }));
  const s = outbox.stats();
  outbox.close();
  return { stream: s.stream, lastSeq: s.generated_total };
}

/** Leaf pages holding the rows (the segment tables, oldest segment first), in key order. */
function leafPages(path: string): number[] {
  const db = rawDb(path);
  try {
    const tables = db.prepare<[], { slot: number }>('SELECT slot FROM segments ORDER BY lo').all().map((r) => `seg_${r.slot}`);
    const leaves = db.prepare<[string], { pageno: number }>("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path");
    return tables.flatMap((t) => leaves.all(t).map((r) => r.pageno));
  } finally {
    db.close();
  }
}

function scribble(path: string, pages: readonly number[]): void {
  const fd = openSync(path, 'r+');
  try {
    for (const p of pages) writeSync(fd, randomBytes(PAGE), 0, PAGE, (p - 1) * PAGE);
  } finally {
    closeSync(fd);
  }
}

/** Another connection commits, so the outbox drops its page cache and reads the file again. */
function touch(path: string): void {
  const other = rawDb(path);
  other.prepare("INSERT INTO meta (key, value) VALUES ('test-touch', 1)").run();
  other.close();
}

const asideFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.includes('.corrupt-')).sort();

for (const [what, damage] of [
  ['a file that is not a database', (p: string) => writeFileSync(p, randomBytes(64 * 1024))],
  ['a truncated database', (p: string) => truncateSync(p, Math.floor(statSync(p).size / 2))],
  ['garbage pages in the middle', (p: string) => scribble(p, leafPages(p).slice(20, 24))],
] as const) {
  test(`corrupt at open (${what}): moved aside, new stream, counted, one log line`, (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'outbox.db');
    const before = filled(path);
    damage(path);
    const bad = readFileSync(path);
    const now = new Date(Date.UTC(2025, 6, 1, 8, 30, 5));
    const { outbox, log } = openTestOutbox(path, { now: () => now });
    const s = outbox.stats();
    assert.notEqual(s.stream, before.stream);
    assert.equal(s.corrupt_total, 1);
    assert.equal(s.rows, 0);
    assert.deepEqual(asideFiles(dir), ['outbox.db.corrupt-20250701T083005Z']);
    assert.ok(readFileSync(join(dir, 'outbox.db.corrupt-20250701T083005Z')).equals(bad), 'the damaged file is kept as it was');
    const errors = log.at('error');
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^outbox: database .*outbox\.db is corrupt \(.+\); moved it aside to .*outbox\.db\.corrupt-20250701T083005Z; new stream [0-9a-f]{32}; 1 corrupt so far$/);
    assert.deepEqual(outbox.append(round(0, 2)), [1, 2]);
    outbox.close();
    assert.equal(integrity(path), 'ok');
    // The count survives restarts (it lives in the new database).
    const again = openTestOutbox(path).outbox;
    assert.equal(again.stats().corrupt_total, 1);
    again.close();
  });
}

test('corruption found while running (take): recovered in place, seqs continue, counted', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const before = filled(path);
  const { outbox, log } = openTestOutbox(path); // quick_check passes: the file is fine
  assert.equal(outbox.stream, before.stream);
  scribble(path, leafPages(path).slice(30, 34));
  touch(path);

  assert.deepEqual(outbox.take(0, 100_000, 1e12), []);
  assert.notEqual(outbox.stream, before.stream);
  assert.equal(outbox.stats().corrupt_total, 1);
  assert.equal(asideFiles(dir).filter((f) => !/-(wal|shm)$/.test(f)).length, 1);
  assert.equal(log.at('error').length, 1);
  assert.match(log.at('error')[0]!, /is corrupt .*seqs continue after 1000/);
  // A cursor the uplink kept from the old stream still works: new seqs are above it.
  const seqs = outbox.append(round(5000, 3));
  assert.deepEqual(seqs, [1001, 1002, 1003]);
  assert.deepEqual(outbox.take(before.lastSeq, 10, 1e9).map((i) => i.seq), seqs);
  assert.equal(outbox.integrityCheck(), 'ok');
  outbox.close();
});

test('corruption found while running (append): the round is stored in the new database', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  filled(path);
  const { outbox, log } = openTestOutbox(path);
  const leaves = leafPages(path);
  scribble(path, leaves.slice(-3)); // the rightmost leaves, where an insert goes
  touch(path);

  const seqs = outbox.append(round(9000, 5));
  assert.deepEqual(seqs, [1001, 1002, 1003, 1004, 1005]);
  const s = outbox.stats();
  assert.equal(s.rows, 5);
  assert.equal(s.corrupt_total, 1);
  assert.equal(s.generated_total, 5, 'generated counts this stream only');
  assert.equal(log.at('error').length, 1);
  outbox.close();
  assert.equal(integrity(path), 'ok');
});

test('at most two corrupt copies are kept', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  for (let i = 0; i < 3; i++) {
    writeFileSync(path, randomBytes(8192));
    const { outbox, log } = openTestOutbox(path, { now: () => new Date(Date.UTC(2025, 0, 1, 0, 0, i)) });
    outbox.close();
    if (i === 2) assert.match(log.at('error')[0]!, /deleted older copies .*corrupt-20250101T000000Z/);
  }
  assert.deepEqual(asideFiles(dir), ['outbox.db.corrupt-20250101T000001Z', 'outbox.db.corrupt-20250101T000002Z']);
});

test('the database file deleted while open: a new database (new stream), seqs continue', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const { outbox, log } = openTestOutbox(path);
  outbox.append(round(0, 3));
  const first = outbox.stream;
  for (const f of ['outbox.db', 'outbox.db-wal', 'outbox.db-shm']) rmSync(join(dir, f), { force: true });
  assert.deepEqual(outbox.append(round(3, 2)), [4, 5]);
  assert.notEqual(outbox.stream, first);
  assert.equal(outbox.stats().corrupt_total, 0);
  assert.match(log.at('error')[0]!, /was deleted or moved while open/);
  outbox.close();
  assert.ok(statSync(path).size > 0);
  assert.equal(integrity(path), 'ok');
});
