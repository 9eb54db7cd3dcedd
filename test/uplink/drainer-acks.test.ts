// The Drainer commits the deletes of several PUBACKs together: within ackDelayMs, at once
// when nothing is left to send, before a rewind, at stop; a crash in between sends those
// results again and loses none. Rows are counted through a second connection to the file
// (the outbox's own stats() would commit pending acks first).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Outbox } from '../../agent/core/outbox.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { Drainer } from '../../agent/uplink/drainer.js';
import { rawDb } from '../helpers/outbox-fixtures.js';
import { CaptureLogger, waitUntil } from './harness.js';
import { icmpResults } from './records.js';
import { ScriptedTransport } from './scripted-transport.js';

let dir = '';
before(() => void (dir = mkdtempSync(join(tmpdir(), 'fp-acks-'))));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rowsInFile(path: string): number {
  const db = rawDb(path);
  try {
    return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM results').get()!.n;
  } finally {
    db.close();
  }
}

interface Rig {
  path: string;
  outbox: Outbox;
  transport: ScriptedTransport;
  drainer: Drainer;
  seqs: number[];
}

function rig(opts: { batchMax: number; inflightMax: number; ackDelayMs: number; results?: number }): Rig {
  const path = join(dir, `o${++n}.db`);
  const logger = new CaptureLogger();
  const outbox = openOutbox({ path, max_mb: 16, synchronous: 'normal', logger });
  const seqs = outbox.append(icmpResults(0, opts.results ?? 10));
  const transport = new ScriptedTransport();
  const drainer = new Drainer({ outbox, transport, deviceId: 'pi', batchMax: opts.batchMax, inflightMax: opts.inflightMax, ackDelayMs: opts.ackDelayMs, logger, stopTimeoutMs: 50, retryMinMs: 100, retryMaxMs: 100, random: () => 0.9999 });
  return { path, outbox, transport, drainer, seqs };
}

test('the deletes of several PUBACKs are committed together, ackDelayMs after the first', async () => {
  const { path, outbox, transport, drainer, seqs: s } = rig({ batchMax: 2, inflightMax: 3, ackDelayMs: 150, results: 20 });
  drainer.start();
  for (const first of [s[0], s[2], s[4]]) transport.settle(first!, true);
  await tick();
  assert.equal(drainer.stats().results_published, 6);
  assert.equal(rowsInFile(path), 20, 'nothing deleted yet');
  await waitUntil(() => rowsInFile(path) === 14, 1000, 'the delayed commit');
  await drainer.stop();
  outbox.close();
});

test('nothing left to send: each ack is committed at once, without waiting for the delay', async () => {
  const { path, outbox, transport, drainer, seqs: s } = rig({ batchMax: 4, inflightMax: 2, ackDelayMs: 60_000 });
  drainer.start();
  transport.settle(s[0]!, true);
  await tick();
  assert.equal(rowsInFile(path), 10, 'more to send: held back');
  transport.settle(s[4]!, true);
  await tick();
  assert.equal(rowsInFile(path), 2, 'the backlog is out: committed');
  transport.settle(s[8]!, true);
  await tick();
  assert.equal(rowsInFile(path), 0);
  await drainer.stop();
  outbox.close();
});

test('stop() commits the acks still held back', async () => {
  const { path, outbox, transport, drainer, seqs: s } = rig({ batchMax: 2, inflightMax: 3, ackDelayMs: 60_000 });
  drainer.start();
  transport.settle(s[0]!, true);
  await tick();
  assert.equal(rowsInFile(path), 10);
  const started = performance.now();
  await drainer.stop(); // two messages stay unacknowledged: waits stopTimeoutMs, then commits
  assert.ok(performance.now() - started < 1000);
  assert.equal(rowsInFile(path), 8);
  outbox.close();
});

test('a failed publish: acks held back are committed before the rewind, so their rows are not sent again', async () => {
  const { path, outbox, transport, drainer, seqs: s } = rig({ batchMax: 2, inflightMax: 3, ackDelayMs: 60_000 });
  drainer.start();
  transport.settle(s[0]!, true); // the window refills with [s6, s7]
  await tick();
  transport.connected = false;
  transport.settle(s[2]!, false);
  transport.settle(s[4]!, true);
  await tick();
  assert.equal(rowsInFile(path), 10, 'still held back');
  transport.settle(s[6]!, false);
  await tick();
  assert.equal(rowsInFile(path), 6, 'committed when the window emptied, before the rewind');
  transport.reconnect();
  assert.deepEqual(transport.sent.slice(4), [[s[2], s[3]], [s[6], s[7]], [s[8], s[9]]], 'resent from the oldest unacknowledged: not s0, s1, s4, s5');
  await drainer.stop();
  outbox.close();
});

test('a crash between PUBACK and the commit: those results are sent again after restart, none lost', async () => {
  const path = join(dir, 'crash.db');
  const child = join(dirname(fileURLToPath(import.meta.url)), 'ack-crash-child.js');
  const r = spawnSync(process.execPath, [child, path], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.signal, 'SIGKILL', `child: ${r.stdout} ${r.stderr}`);
  const acked = (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { acked: number[] }).acked;
  assert.equal(acked.length, 30, 'the child had 30 results PUBACKed');

  const logger = new CaptureLogger();
  const outbox = openOutbox({ path, max_mb: 16, synchronous: 'full', logger });
  assert.equal(outbox.stats().delivered_total, 0, 'their deletes were not committed');
  const transport = new ScriptedTransport();
  const drainer = new Drainer({ outbox, transport, deviceId: 'pi', batchMax: 10, inflightMax: 10, logger });
  drainer.start();
  const again = transport.sent.flat();
  assert.deepEqual(again, Array.from({ length: 50 }, (_, k) => k + 1), 'all 50 are sent, the 30 acked before the crash again');
  for (const p of [...transport.pending]) transport.settle(p.seqs[0]!, true);
  await tick();
  await drainer.stop();
  const s = outbox.stats();
  assert.deepEqual({ rows: s.rows, delivered: s.delivered_total, generated: s.generated_total }, { rows: 0, delivered: 50, generated: 50 });
  outbox.close();
});

test('acks after stop() are committed at once (nothing would commit them later)', async () => {
  const { path, outbox, transport, drainer, seqs: s } = rig({ batchMax: 5, inflightMax: 2, ackDelayMs: 60_000 });
  drainer.start();
  await drainer.stop(); // both messages unacknowledged: gives up after stopTimeoutMs
  transport.settle(s[0]!, true);
  await tick();
  assert.equal(rowsInFile(path), 5);
  await sleep(10);
  outbox.close();
});
