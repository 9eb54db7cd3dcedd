// The Drainer with the real SqliteOutbox, the real transport and a real Mosquitto: what the
// cloud receives, when rows are deleted, and what survives a broker outage.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { mqttUplinkSchema } from '../../agent/config/schema.js';
import type { Transport } from '../../agent/core/uplink.js';
import { openOutbox, type SqliteOutbox } from '../../agent/outbox/index.js';
import { Drainer } from '../../agent/uplink/drainer.js';
import { createTransport } from '../../agent/uplink/transport.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProxy } from '../helpers/mqtt-proxy.js';
import type { MqttSubscriber } from '../helpers/mqtt-subscriber.js';
import { CaptureLogger, FAST_TIMING, once, syncedClock, waitUntil } from './harness.js';
import { icmpResult, icmpResults, type Telemetry } from './records.js';

const DEVICE = 'pi-drain';
const EVENTS = `/devices/${DEVICE}/events`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Rig {
  outbox: SqliteOutbox;
  transport: Transport;
  drainer: Drainer;
  logger: CaptureLogger;
}

describe('Drainer (SqliteOutbox -> transport -> Mosquitto)', () => {
  let broker: Mosquitto;
  let proxy: MqttProxy;
  let sub: MqttSubscriber;
  let dir: string;
  const cleanups: Array<() => Promise<void> | void> = [];

  before(async () => {
    broker = await Mosquitto.start();
    proxy = await MqttProxy.start(broker.port);
    sub = await broker.subscriber([EVENTS]);
    dir = mkdtempSync(join(tmpdir(), 'fp-drain-'));
  });
  afterEach(async () => {
    proxy.release();
    proxy.setMode('forward');
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  after(async () => {
    await sub.close();
    await proxy.close();
    await broker.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  async function rig(opts: { batchMax?: number; inflightMax?: number; stopTimeoutMs?: number } = {}): Promise<Rig> {
    const logger = new CaptureLogger();
    const outbox = openOutbox({ path: join(dir, `outbox-${++n}.db`), max_mb: 64, synchronous: 'normal', logger });
    const cfg = mqttUplinkSchema.parse({ profile: 'mqtt', url: `mqtt://127.0.0.1:${proxy.port}` });
    const transport = createTransport(cfg, { deviceId: DEVICE, logger, clock: syncedClock, timing: FAST_TIMING });
    const drainer = new Drainer({ outbox, transport, deviceId: DEVICE, batchMax: opts.batchMax ?? 500, inflightMax: opts.inflightMax ?? 8, logger, stopTimeoutMs: opts.stopTimeoutMs ?? 2000, retryMinMs: 50, retryMaxMs: 200 });
    cleanups.push(() => outbox.close(), () => transport.stop(), () => drainer.stop());
    transport.start();
    drainer.start();
    await once(transport, 'connected').catch((err: Error) => {
      throw new Error(`${err.message}: ${logger.lines.map((l) => l.message).join(' | ')}`);
    });
    return { outbox, transport, drainer, logger };
  }

  /** Every telemetry message of this outbox's stream the cloud got so far, parsed. */
  const telemetry = (outbox: SqliteOutbox, from = sub): Telemetry[] =>
    from.messages.filter((m) => m.topic === EVENTS).map((m) => JSON.parse(m.payload.toString()) as Telemetry).filter((t) => t.stream === outbox.stream);
  const seqsOf = (ts: Telemetry[]): number[] => ts.flatMap((t) => t.results.map((r) => r.seq));

  test('results reach the cloud with QoS 1, oldest first, in the telemetry format; then the outbox is empty', async () => {
    const { outbox, drainer } = await rig();
    const seqs = [...outbox.append(icmpResults(0, 5)), ...outbox.append(icmpResults(5, 5))];
    drainer.kick();
    await waitUntil(() => outbox.stats().rows === 0, 5000, 'the outbox to drain');
    await waitUntil(() => seqsOf(telemetry(outbox)).length >= 10, 5000, 'the cloud to get everything');
    const msgs = telemetry(outbox);
    assert.deepEqual(seqsOf(msgs), seqs);
    const first = msgs[0]!;
    assert.equal(first.schema, 1);
    assert.equal(first.device, DEVICE);
    assert.equal(Object.keys(first.results[0]!)[0], 'seq', 'seq comes first');
    assert.deepEqual({ ...first.results[0], seq: undefined }, { ...icmpResult(0), seq: undefined });
    assert.ok(sub.messages.filter((m) => m.topic === EVENTS).every((m) => m.qos === 1 && !m.retain));
    assert.equal(outbox.stats().delivered_total, 10);
    assert.deepEqual({ ...drainer.stats(), last_error: null, last_error_at: null }, { messages_published: msgs.length, results_published: 10, results_dropped: 0, publish_failures: 0, inflight: 0, last_error: null, last_error_at: null });
  });

  test('rows are deleted only after PUBACK (broker frozen: rows stay; thawed: acked and deleted)', async () => {
    const { outbox, drainer } = await rig();
    broker.pause();
    try {
      outbox.append(icmpResults(0, 20));
      drainer.kick();
      await sleep(400);
      assert.equal(outbox.stats().rows, 20, 'nothing deleted without PUBACK');
      assert.equal(drainer.stats().inflight, 1);
    } finally {
      broker.resume();
    }
    await waitUntil(() => outbox.stats().rows === 0, 5000, 'acks after resume');
    assert.equal(outbox.stats().delivered_total, 20);
  });

  test('batches respect batch_max', async () => {
    const { outbox, drainer } = await rig({ batchMax: 100 });
    outbox.append(icmpResults(0, 1000));
    drainer.kick();
    await waitUntil(() => outbox.stats().rows === 0, 10_000, 'the outbox to drain');
    await waitUntil(() => seqsOf(telemetry(outbox)).length >= 1000, 5000, 'the cloud to get everything');
    const small = telemetry(outbox);
    assert.ok(small.every((t) => t.results.length <= 100));
    assert.equal(small.length, 10);
  });

  test('big records: the 256 KB message limit binds before batch_max, and messages are filled', async () => {
    // 1,000 RTTs per record, about 7 KB each.
    const { outbox, drainer, transport } = await rig({ batchMax: 500 });
    outbox.append(icmpResults(0, 300, { packets: 1000 }));
    drainer.kick();
    await waitUntil(() => outbox.stats().rows === 0, 10_000, 'the outbox to drain');
    await waitUntil(() => seqsOf(telemetry(outbox)).length >= 300, 5000, 'the cloud to get everything');
    const payloads = sub.messages.filter((m) => m.topic === EVENTS && (JSON.parse(m.payload.toString()) as Telemetry).stream === outbox.stream);
    const one = Buffer.byteLength(JSON.stringify(icmpResult(0, { packets: 1000 })));
    assert.ok(payloads.every((m) => m.payload.length <= transport.maxEventBytes), 'under the limit');
    assert.ok(payloads.slice(0, -1).every((m) => m.payload.length > transport.maxEventBytes - one - 100), 'and filled up to it');
    assert.deepEqual(drainer.stats().publish_failures, 0);
    assert.equal(seqsOf(telemetry(outbox)).length, 300, 'no duplicates on a healthy connection');
  });

  test('a result too large for any message is dropped, counted and logged, and the rest flows', async () => {
    const { outbox, drainer, logger } = await rig();
    const before = outbox.append(icmpResults(0, 3));
    const [huge] = outbox.append([icmpResult(3, { packets: 60_000 })]); // ~400 KB of RTTs
    const rest = outbox.append(icmpResults(4, 3));
    drainer.kick();
    await waitUntil(() => outbox.stats().rows === 0, 5000, 'the outbox to drain');
    await waitUntil(() => seqsOf(telemetry(outbox)).length >= 6, 5000, 'the cloud to get everything');
    assert.deepEqual(seqsOf(telemetry(outbox)), [...before, ...rest]);
    assert.equal(drainer.stats().results_dropped, 1);
    assert.equal(outbox.stats().dropped_total, 1);
    assert.equal(logger.matching(new RegExp(`seq ${huge} dropped`), 'warn').length, 1);
  });

  test('stop() waits for PUBACKs, bounded; unacknowledged rows stay for the next start', async () => {
    const { outbox, drainer } = await rig({ stopTimeoutMs: 300 });
    proxy.hold();
    outbox.append(icmpResults(0, 5));
    drainer.kick();
    await sleep(100);
    const started = performance.now();
    await drainer.stop();
    const took = performance.now() - started;
    assert.ok(took >= 250 && took < 1000, `stop took ${took.toFixed(0)} ms`);
    assert.equal(outbox.stats().rows, 5);
  });
  test('broker down for a while, then back: every result delivered exactly once after dedup, in order', async () => {
    const { outbox, drainer } = await rig({ batchMax: 50, inflightMax: 4 });
    const appended: number[] = [];
    let i = 0;
    const producer = setInterval(() => {
      appended.push(...outbox.append(icmpResults(i, 10)));
      i += 10;
      drainer.kick();
    }, 10);
    cleanups.push(() => clearInterval(producer));
    await sleep(300);
    proxy.hold(); // PUBACKs stop: published, maybe delivered, never acked
    await sleep(200);
    proxy.setMode('refuse');
    await broker.stop();
    await sleep(1000);
    await broker.relaunch();
    const sub2 = await broker.subscriber([EVENTS]);
    cleanups.push(() => sub2.close());
    proxy.release();
    proxy.setMode('forward');
    await sleep(500);
    clearInterval(producer);
    await waitUntil(() => outbox.stats().rows === 0, 10_000, 'the backlog to drain');
    await waitUntil(() => new Set(seqsOf(telemetry(outbox, sub2))).size + new Set(seqsOf(telemetry(outbox, sub))).size >= appended.length, 5000, 'the cloud to get everything');

    const got = [...seqsOf(telemetry(outbox, sub)), ...seqsOf(telemetry(outbox, sub2))];
    const seen = new Set<number>();
    const firsts = got.filter((s) => (seen.has(s) ? false : (seen.add(s), true)));
    assert.deepEqual(firsts, appended, 'each result once, in order, none missing');
    assert.ok(got.length > firsts.length, `the unacknowledged results were sent again (duplicates expected): ${JSON.stringify({ got: got.length, firsts: firsts.length, s1: seqsOf(telemetry(outbox, sub)).length, s2: seqsOf(telemetry(outbox, sub2)).length, st: drainer.stats() })}`);
    assert.ok(drainer.stats().publish_failures >= 1);
    assert.equal(outbox.stats().delivered_total, appended.length);
  });

});
