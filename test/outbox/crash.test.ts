// Process crashes (SIGKILL at random moments, 25 times over one database): every round
// reported committed is there, the file is intact, seqs keep increasing. SIGKILL tests
// what SQLite's WAL does when the process dies; power loss additionally depends on fsync
// reaching the storage (see agent/outbox/README.md).
import assert from 'node:assert/strict';
import { readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { committedFrames } from '../../agent/outbox/wal-snapshot.js';
import { integrity, openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';
import { runAndKill } from '../helpers/outbox-crash.js';

const KILLS = 25;

function stored(path: string): { n: number; lo: number; hi: number } {
  const db = rawDb(path);
  try {
    return db.prepare<[], { n: number; lo: number; hi: number }>('SELECT count(*) AS n, coalesce(min(seq), 0) AS lo, coalesce(max(seq), 0) AS hi FROM results').get()!;
  } finally {
    db.close();
  }
}

test(`SIGKILL at random moments, ${KILLS} times over one database: no committed round lost, no corruption`, { timeout: 120_000 }, async (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const first = openTestOutbox(path, { max_mb: 256, synchronous: 'full' }).outbox;
  const stream = first.stream;
  first.close();

  let before = 0; // highest seq in the file before this run
  let reported = 0;
  for (let k = 0; k < KILLS; k++) {
    // Mostly mid-loop (0-300 ms after the first round), every fifth during startup or open.
    const run = k % 5 === 4 ? await runAndKill(path, 20 + Math.floor(Math.random() * 130)) : await runAndKill(path, Math.floor(Math.random() * 300), { minRounds: 1 });
    if (run.stream !== undefined) assert.equal(run.stream, stream, `run ${k}: the child recreated the database: ${run.stderr}`);
    for (const s of run.seqs) assert.ok(s > before, `run ${k}: seq ${s} not above ${before}`);
    reported += run.seqs.length;

    // Open as the agent would after the crash (WAL recovery), then look at the table.
    const { outbox, log } = openTestOutbox(path, { max_mb: 256, synchronous: 'full' });
    const s = outbox.stats();
    assert.equal(s.stream, stream, `run ${k}: new stream (corruption?) ${log.lines.map((l) => l.message).join(' | ')}`);
    assert.equal(s.corrupt_total, 0);
    assert.equal(s.dropped_total, 0);
    outbox.close();
    const tb = stored(path);
    // Nothing is acked or dropped here, so the table must be exactly seqs 1..generated: each
    // round whole, and every round the child reported is in it.
    assert.equal(tb.n, s.generated_total, `run ${k}: gaps in the table`);
    assert.equal(tb.n === 0 ? 0 : tb.hi - tb.lo + 1, tb.n);
    assert.equal(s.rows, tb.n);
    const last = run.seqs[run.seqs.length - 1];
    if (last !== undefined) assert.ok(tb.hi >= last, `run ${k}: reported seq ${last} missing (table ends at ${tb.hi})`);
    assert.equal(integrity(path), 'ok', `run ${k}`);
    before = tb.hi;
  }
  assert.ok(reported > KILLS * 2, `the writer reported only ${reported} rounds in ${KILLS} runs`);
  t.diagnostic(`${reported} rounds reported committed across ${KILLS} kills; ${before} results in the file`);
});

function present(path: string, seqs: readonly number[]): number {
  const db = rawDb(path);
  try {
    const has = db.prepare<[number], { n: number }>('SELECT count(*) AS n FROM results WHERE seq = ?');
    return seqs.filter((s) => has.get(s)!.n === 1).length;
  } finally {
    db.close();
  }
}

test('synchronous normal, SIGKILL 10 times: nothing committed is lost either (the OS has it), seqs keep increasing', { timeout: 60_000 }, async (t) => {
  const path = join(tempDir(t), 'outbox.db');
  let stream: string | undefined;
  let before = 0;
  for (let k = 0; k < 10; k++) {
    const run = await runAndKill(path, 20 + Math.floor(Math.random() * 300), { synchronous: 'normal' });
    stream ??= run.stream;
    for (const s of run.seqs) assert.ok(s > before, `run ${k}: seq ${s} not above ${before}`);
    const { outbox } = openTestOutbox(path, { synchronous: 'normal' });
    assert.equal(present(path, run.seqs), run.seqs.length, `run ${k}: a reported round is missing`);
    const s = outbox.stats();
    if (stream !== undefined) assert.equal(s.stream, stream);
    assert.equal(s.corrupt_total, 0);
    assert.equal(s.rows, s.generated_total);
    outbox.close();
    assert.equal(integrity(path), 'ok');
    before = Math.max(before, ...run.seqs);
  }
});

test('synchronous normal, power loss simulated by cutting the WAL tail: the newest rounds go, seqs are never handed out twice', { timeout: 60_000 }, async (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const FRAME = 24 + 4096;
  let cuts = 0;
  let lossy = 0; // cuts that took rounds the writer had reported committed
  for (let k = 0; cuts < 5; k++) {
    assert.ok(k < 30, `only ${cuts} usable runs in ${k}`);
    const run = await runAndKill(path, 0, { synchronous: 'normal', minRounds: 40 });
    const reported = Math.max(...run.seqs);
    // The frames of the last few commits never reached the disk (normal does not fsync a
    // commit); the reservation commit at the start of the run did (it is synced). Where the
    // valid frames end: after a checkpoint SQLite rewrites the WAL from its start, so the
    // file's tail may hold older frames, and a run right after a checkpoint is no use here.
    const end = committedFrames(readFileSync(`${path}-wal`), 4096)?.end ?? 0;
    if (end < 32 + 80 * FRAME) {
      openTestOutbox(path, { synchronous: 'normal' }).outbox.close();
      continue;
    }
    cuts++;
    truncateSync(`${path}-wal`, end - 40 * FRAME - 1000);
    const { outbox } = openTestOutbox(path, { synchronous: 'normal' });
    if (present(path, run.seqs) < run.seqs.length) lossy++;
    assert.equal(outbox.stats().corrupt_total, 0);
    const next = outbox.append(round(0, 3));
    assert.ok(next[0]! > reported, `run ${k}: seq ${next[0]} handed out again (the lost run reached ${reported})`);
    assert.equal(outbox.integrityCheck(), 'ok');
    outbox.close();
  }
  assert.ok(lossy > 0, 'the simulated power losses never took a reported round');
  t.diagnostic(`${lossy} of ${cuts} simulated power losses took rounds reported committed`);
});
