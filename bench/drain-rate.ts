// Drain-rate benchmark: a backlog of ICMP results in the real SqliteOutbox, drained by the
// real Drainer and transport to a local Mosquitto; then a bare mqtt.js QoS 1 publisher sends
// the same message sizes with the same in-flight window. Prints both rates and the ratio,
// and where the drainer's time went.
//
//   node dist/bench/drain-rate.js [--results 1000000] [--batch 500] [--inflight 8] [--round 1000] [--sync normal|full]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mqttUplinkSchema } from '../agent/config/schema.js';
import type { Logger } from '../agent/core/logger.js';
import type { Outbox, OutboxItem, OutboxStats } from '../agent/core/outbox.js';
import type { ProbeResult } from '../agent/core/result.js';
import type { Transport, TransportEvents } from '../agent/core/uplink.js';
import { openOutbox } from '../agent/outbox/index.js';
import { Drainer } from '../agent/uplink/drainer.js';
import { createTransport } from '../agent/uplink/transport.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { icmpResults } from '../test/uplink/records.js';
import { barePublish } from './drain-bare.js';

const { values: args } = parseArgs({
  options: {
    results: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '500' },
    inflight: { type: 'string', default: '8' },
    round: { type: 'string', default: '1000' },
    sync: { type: 'string', default: 'normal' },
  },
});
const TOTAL = Number(args.results);
const BATCH = Number(args.batch);
const INFLIGHT = Number(args.inflight);
const ROUND = Number(args.round);
const SYNC = args.sync === 'full' ? 'full' : 'normal';
const DEVICE = 'pi-bench';

const quiet: Logger = { debug() {}, info() {}, warn: (m) => console.error(`warn: ${m}`), error: (m) => console.error(`error: ${m}`) };

/** Time spent inside the outbox, per method (ms). */
class TimedOutbox implements Outbox {
  readonly ms = { take: 0, ack: 0 };
  constructor(private readonly inner: Outbox) {}
  get stream(): string { return this.inner.stream; }
  append(results: readonly ProbeResult[]): number[] { return this.inner.append(results); }
  take(afterSeq: number, maxItems: number, maxBytes: number): OutboxItem[] {
    const t = performance.now();
    try { return this.inner.take(afterSeq, maxItems, maxBytes); } finally { this.ms.take += performance.now() - t; }
  }
  ack(seqs: readonly number[]): void {
    const t = performance.now();
    try { this.inner.ack(seqs); } finally { this.ms.ack += performance.now() - t; }
  }
  drop(seqs: readonly number[], reason: string): void { this.inner.drop(seqs, reason); }
  stats(): OutboxStats { return this.inner.stats(); }
  close(): void { this.inner.close(); }
}

/** Records every telemetry message's size and the time spent handing it to mqtt.js. */
class RecordingTransport implements Transport {
  readonly sizes: number[] = [];
  publishMs = 0;
  constructor(private readonly inner: Transport) {}
  get connected(): boolean { return this.inner.connected; }
  get maxEventBytes(): number { return this.inner.maxEventBytes; }
  start(): void { this.inner.start(); }
  stop(): Promise<void> { return this.inner.stop(); }
  publishEvent(payload: Buffer, subfolder?: string): Promise<void> {
    this.sizes.push(payload.length);
    const t = performance.now();
    const p = this.inner.publishEvent(payload, subfolder);
    this.publishMs += performance.now() - t;
    return p;
  }
  publishState(payload: Buffer): Promise<void> { return this.inner.publishState(payload); }
  on<E extends keyof TransportEvents>(e: E, l: TransportEvents[E]): void { this.inner.on(e, l); }
  off<E extends keyof TransportEvents>(e: E, l: TransportEvents[E]): void { this.inner.off(e, l); }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-bench-drain-'));
  const broker = await Mosquitto.start();
  try {
    const raw = openOutbox({ path: join(dir, 'outbox.db'), max_mb: 4096, synchronous: SYNC, logger: quiet });
    let t = performance.now();
    for (let i = 0; i < TOTAL; i += ROUND) raw.append(icmpResults(i, Math.min(ROUND, TOTAL - i)));
    const filled = raw.stats();
    console.log(`outbox synchronous=${SYNC}; backlog: ${filled.rows} results, ${mb(filled.bytes)} MB of JSON (${(filled.bytes / filled.rows).toFixed(0)} B/result), file ${mb(filled.file_bytes)} MB, filled in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const outbox = new TimedOutbox(raw);
    const cfg = mqttUplinkSchema.parse({ profile: 'mqtt', url: broker.url, batch_max: BATCH, inflight_max: INFLIGHT });
    const transport = new RecordingTransport(createTransport(cfg, { deviceId: DEVICE, logger: quiet, clock: { synced: () => true } }));
    transport.start();
    await new Promise<void>((resolve) => transport.on('connected', resolve));
    const drainer = new Drainer({ outbox, transport, deviceId: DEVICE, batchMax: BATCH, inflightMax: INFLIGHT, logger: quiet });
    const cpu0 = process.cpuUsage();
    t = performance.now();
    drainer.start();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (drainer.stats().results_published >= TOTAL) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
    });
    const drainS = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await drainer.stop();
    await transport.stop();
    const left = raw.stats().rows;
    raw.close();
    const drainBytes = transport.sizes.reduce((a, b) => a + b, 0);
    const msgs = transport.sizes.length;

    const bare = await barePublish(broker.url, `/devices/${DEVICE}/events`, transport.sizes, INFLIGHT);

    const drainRate = TOTAL / drainS;
    const drainMBs = drainBytes / 1e6 / drainS;
    const bareMBs = bare.bytes / 1e6 / bare.seconds;
    console.log(`messages: ${msgs} (batch_max ${BATCH}, inflight ${INFLIGHT}), mean ${(drainBytes / msgs / 1024).toFixed(1)} KiB, ${mb(drainBytes)} MB on the wire (payloads)`);
    console.log(`drainer: ${drainRate.toFixed(0)} results/s, ${drainMBs.toFixed(1)} MB/s, ${drainS.toFixed(2)} s; ${left} rows left`);
    console.log(`bare mqtt.js: ${(TOTAL / bare.seconds).toFixed(0)} results/s equivalent, ${bareMBs.toFixed(1)} MB/s, ${bare.seconds.toFixed(2)} s`);
    console.log(`ratio (drainer / bare, bytes/s): ${((drainMBs / bareMBs) * 100).toFixed(0)}%`);
    const other = drainS * 1000 - outbox.ms.take - outbox.ms.ack - transport.publishMs;
    console.log(`drainer main-thread time: take ${(outbox.ms.take / 1000).toFixed(2)} s, ack ${(outbox.ms.ack / 1000).toFixed(2)} s, publish call ${(transport.publishMs / 1000).toFixed(2)} s, rest (build, mqtt.js I/O, idle) ${(other / 1000).toFixed(2)} s; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, sys ${(cpu.system / 1e6).toFixed(2)})`);
  } finally {
    await broker.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
