// SIGKILL while appending and draining (acks coalesced, segments filling and being emptied,
// drops): after each restart nothing committed is lost, no delivered or dropped row comes
// back once its commit returned, counters add up, the file is intact.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { integrity, openTestOutbox, tempDir } from '../helpers/outbox-fixtures.js';

const child = join(dirname(fileURLToPath(import.meta.url)), 'drain-crash-child.js');
const KILLS = 12;

function runAndKill(path: string, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    // Killed `ms` after its first 30 steps (a loaded machine can take a second to start it).
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (timer === undefined && out.split('\n').length > 30) timer = setTimeout(() => proc.kill('SIGKILL'), ms);
    });
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    proc.on('error', reject);
    proc.on('close', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`child ended by itself: ${err}`));
      resolve(out.split('\n').slice(0, -1)); // complete lines only
    });
  });
}

test(`SIGKILL while draining, ${KILLS} times: committed rounds kept, committed acks and drops stay done, counters exact`, { timeout: 120_000 }, async (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const appended = new Set<number>();
  const acked = new Set<number>(); // handed to ack() or drop(), committed or not
  const done = new Set<number>(); // acks a flush() committed, drops that returned
  let lastSeq = 0;
  for (let k = 0; k < KILLS; k++) {
    const lines = await runAndKill(path, Math.floor(Math.random() * 400));
    let pending: number[] = [];
    let dropping = 0;
    for (const line of lines) {
      const [kind, a, b] = line.split(' ');
      if (kind === 'A') {
        assert.ok(Number(a) > lastSeq, `run ${k}: seq ${a} not above ${lastSeq}`);
        for (let s = Number(a); s <= Number(b); s++) appended.add(s);
        lastSeq = Number(b);
      } else if (kind === 'k') {
        const seqs = a!.split(',').map(Number);
        for (const s of seqs) acked.add(s);
        pending.push(...seqs);
      } else if (kind === 'F') {
        for (const s of pending) done.add(s);
        pending = [];
      } else if (kind === 'd') {
        dropping = Number(a);
        acked.add(dropping); // may be committed before the kill, reported or not
      } else if (kind === 'D') done.add(dropping);
    }
    const { outbox, log } = openTestOutbox(path, { max_mb: 2, synchronous: 'full' });
    const s = outbox.stats();
    assert.equal(s.corrupt_total, 0, log.lines.map((l) => l.message).join(' | '));
    assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
    const stored = new Set(outbox.take(0, 1e7, 1e15).map((i) => i.seq));
    assert.equal(stored.size, s.rows);
    for (const seq of done) assert.ok(!stored.has(seq), `run ${k}: seq ${seq} back after its commit`);
    for (const seq of appended) if (!acked.has(seq) && !done.has(seq)) assert.ok(stored.has(seq), `run ${k}: seq ${seq} lost (${JSON.stringify({ ...s, done: done.size, acked: acked.size, log: log.lines.map((l) => l.message) })})`);
    for (const seq of stored) assert.ok(appended.has(seq) || seq > lastSeq, `run ${k}: unknown seq ${seq}`);
    outbox.close();
    assert.equal(integrity(path), 'ok', `run ${k}`);
    // Acked but not committed before the kill: stored again, to be sent again.
    for (const seq of acked) if (stored.has(seq)) acked.delete(seq);
  }
  assert.ok(done.size > 1000, `only ${done.size} acks committed over ${KILLS} runs`);
  t.diagnostic(`${appended.size} results appended, ${done.size} acked or dropped with a commit, across ${KILLS} kills`);
});
