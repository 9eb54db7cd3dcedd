// The Drainer's in-flight window, out-of-order acks and rewind, driven step by step: the
// real SqliteOutbox, and a transport whose PUBACKs the test hands out one by one.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Outbox } from '../../agent/core/outbox.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { Drainer } from '../../agent/uplink/drainer.js';
import { CaptureLogger, waitUntil } from './harness.js';
import { icmpResults } from './records.js';
import { ScriptedTransport } from './scripted-transport.js';

let dir = '';
before(() => void (dir = mkdtempSync(join(tmpdir(), 'fp-window-'))));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function rig(batchMax: number, inflightMax: number, wrap: (o: Outbox) => Outbox = (o) => o): { outbox: Outbox; transport: ScriptedTransport; drainer: Drainer; logger: CaptureLogger; seqs: number[] } {
  const logger = new CaptureLogger();
  const outbox = openOutbox({ path: join(dir, `o${++n}.db`), max_mb: 16, synchronous: 'normal', logger });
  const seqs = outbox.append(icmpResults(0, 10));
  const transport = new ScriptedTransport();
  const drainer = new Drainer({ outbox: wrap(outbox), transport, deviceId: 'pi', batchMax, inflightMax, logger, stopTimeoutMs: 50, retryMinMs: 100, retryMaxMs: 100, random: () => 0.9999 });
  return { outbox, transport, drainer, logger, seqs };
}

test('at most inflightMax messages in flight, oldest first; acks in any order delete exactly their rows', async () => {
  const { outbox, transport, drainer, seqs: s } = rig(2, 3);
  drainer.start();
  assert.deepEqual(transport.sent, [[s[0], s[1]], [s[2], s[3]], [s[4], s[5]]]);
  drainer.kick();
  assert.equal(transport.sent.length, 3, 'the window is full');

  transport.settle(s[4]!, true); // the newest first
  await tick();
  assert.equal(outbox.stats().rows, 8);
  assert.deepEqual(transport.sent.at(-1), [s[6], s[7]], 'the window refills after the highest seq in flight');
  transport.settle(s[0]!, true);
  await tick();
  assert.equal(outbox.stats().rows, 6);
  assert.deepEqual(transport.sent.at(-1), [s[8], s[9]]);
  for (const first of [s[2], s[6], s[8]]) transport.settle(first!, true);
  await tick();
  assert.equal(outbox.stats().rows, 0);
  assert.equal(drainer.stats().results_published, 10);
  await drainer.stop();
  outbox.close();
});

test('a lost connection: the rest in flight settles, then the oldest unacknowledged rows go first after reconnect', async () => {
  const { outbox, transport, drainer, seqs: s } = rig(2, 3);
  drainer.start();
  transport.connected = false;
  transport.settle(s[2]!, false); // the middle one fails
  await tick();
  transport.settle(s[4]!, true); // acks still arriving are applied
  transport.settle(s[0]!, false);
  await tick();
  assert.equal(transport.sent.length, 3, 'nothing new while disconnected');
  assert.equal(outbox.stats().rows, 8);
  transport.reconnect();
  assert.deepEqual(transport.sent.slice(3), [[s[0], s[1]], [s[2], s[3]], [s[6], s[7]]], 'resent from the oldest unacknowledged');
  assert.equal(drainer.stats().publish_failures, 2);
  await drainer.stop();
  outbox.close();
});

test('a publish refused while still connected pauses delivery (backoff) instead of hammering the broker', async () => {
  const { outbox, transport, drainer, logger, seqs: s } = rig(5, 1);
  drainer.start();
  transport.settle(s[0]!, false);
  await tick();
  assert.equal(transport.sent.length, 1, 'no immediate retry');
  await waitUntil(() => transport.sent.length === 2, 1000, 'the retry');
  assert.deepEqual(transport.sent[1], s.slice(0, 5));
  assert.equal(logger.matching(/delivery paused/, 'warn').length, 1);
  await drainer.stop();
  outbox.close();
});

test('an outbox that throws does not break the drainer; it tries again later', async () => {
  let failTakes = 1;
  const flaky = (inner: Outbox): Outbox => new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'take') return (...a: Parameters<Outbox['take']>) => { if (failTakes-- > 0) throw new Error('disk I/O error'); return target.take(...a); };
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const { outbox, transport, drainer, seqs: s } = rig(5, 1, flaky);
  drainer.start();
  assert.equal(transport.sent.length, 0);
  assert.equal(drainer.stats().last_error, 'disk I/O error');
  await waitUntil(() => transport.sent.length === 1, 1000, 'the retry');
  assert.deepEqual(transport.sent[0], s.slice(0, 5));
  await drainer.stop();
  outbox.close();
});
