// Drain-rate benchmark: a backlog of ICMP results in the real SqliteOutbox, drained by the
// real Drainer and transport to a local Mosquitto; a bare mqtt.js QoS 1 publisher sends the
// same message sizes with the same in-flight window once before and once after the drain (on
// a shared machine the load drifts; the ratio uses their mean). Prints both rates, the ratio,
// the CPU time each side used in this process (independent of the machine's load) and where
// the drainer's time went. The drain counts as done when every result's delete is
// committed, not at the last PUBACK.
//
//   node dist/bench/drain-rate.js [--results 1000000] [--batch 500] [--inflight 8] [--round 1000] [--sync full|normal]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mqttUplinkSchema } from '../agent/config/schema.js';
import type { Logger } from '../agent/core/logger.js';
import type { Outbox, OutboxItem, OutboxStats } from '../agent/core/outbox.js';
import type { ProbeResult } from '../agent/core/result.js';
import type { Transport, TransportEvents } from '../agent/core/uplink.js';
import { openOutbox } from '../agent/outbox/index.js';
import { BatchBuilder } from '../agent/uplink/batch.js';
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
    sync: { type: 'string', default: 'full' },
  },
});
const TOTAL = Number(args.results);
const BATCH = Number(args.batch);
const INFLIGHT = Number(args.inflight);
const ROUND = Number(args.round);
const SYNC = args.sync === 'normal' ? 'normal' : 'full';
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
  flush(): void {
    const t = performance.now();
    try { this.inner.flush(); } finally { this.ms.ack += performance.now() - t; }
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

/** Bytes this process has had written to storage so far (Linux; 0 elsewhere): the WAL and the checkpoints. */
function storageWrites(): number {
  try {
    return Number(/^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The payload sizes the drain will send (same records, seqs from 1, the drainer's builder): for the bare run before it. */
function expectedSizes(stream: string, maxBytes: number): number[] {
  const builder = new BatchBuilder(DEVICE);
  const sizes: number[] = [];
  let items: OutboxItem[] = [];
  for (let i = 0; i < TOTAL || items.length > 0;) {
    while (items.length < BATCH && i < TOTAL) {
      const r = icmpResults(i, 1)[0]!;
      items.push({ seq: ++i, ts: r.ts, json: JSON.stringify(r) });
    }
    const built = builder.build(stream, items, maxBytes);
    if (built.kind !== 'batch') throw new Error('a benchmark record does not fit a message');
    sizes.push(built.batch.payload.length);
    items = items.slice(built.batch.seqs.length);
  }
  return sizes;
}

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
    const sizes = expectedSizes(raw.stream, transport.maxEventBytes);
    const topic = `/devices/${DEVICE}/events`;
    const bareCpu0 = process.cpuUsage();
    const bareBefore = await barePublish(broker.url, topic, sizes, INFLIGHT);
    const bareCpuBefore = process.cpuUsage(bareCpu0);
    transport.start();
    await new Promise<void>((resolve) => transport.on('connected', resolve));
    const drainer = new Drainer({ outbox, transport, deviceId: DEVICE, batchMax: BATCH, inflightMax: INFLIGHT, logger: quiet });
    const io0 = storageWrites();
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
    // Done when the last acks are committed: stop() flushes whatever is still pending.
    await drainer.stop();
    const drainS = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const written = storageWrites() - io0;
    await transport.stop();
    const after = raw.stats();
    raw.close();
    const drainBytes = transport.sizes.reduce((a, b) => a + b, 0);
    const msgs = transport.sizes.length;
    if (msgs !== sizes.length || transport.sizes.some((n, i) => n !== sizes[i])) console.error('warn: the bare runs sent other message sizes than the drain');

    const bareCpu1 = process.cpuUsage();
    const bareAfter = await barePublish(broker.url, topic, transport.sizes, INFLIGHT);
    const bareCpuAfter = process.cpuUsage(bareCpu1);

    const drainRate = TOTAL / drainS;
    const drainMBs = drainBytes / 1e6 / drainS;
    const bareRate = (b: { bytes: number; seconds: number }): number => b.bytes / 1e6 / b.seconds;
    const bareMBs = (bareRate(bareBefore) + bareRate(bareAfter)) / 2;
    console.log(`messages: ${msgs} (batch_max ${BATCH}, inflight ${INFLIGHT}), mean ${(drainBytes / msgs / 1024).toFixed(1)} KiB, ${mb(drainBytes)} MB on the wire (payloads)`);
    console.log(`drainer: ${drainRate.toFixed(0)} results/s, ${drainMBs.toFixed(1)} MB/s, ${drainS.toFixed(2)} s; ${after.rows} rows left, ${after.delivered_total} delivered`);
    console.log(`bare mqtt.js: ${bareMBs.toFixed(1)} MB/s (before ${bareRate(bareBefore).toFixed(1)} MB/s in ${bareBefore.seconds.toFixed(2)} s, after ${bareRate(bareAfter).toFixed(1)} MB/s in ${bareAfter.seconds.toFixed(2)} s), ${((TOTAL / drainBytes) * bareMBs * 1e6).toFixed(0)} results/s equivalent`);
    console.log(`ratio (drainer / bare, bytes/s): ${((drainMBs / bareMBs) * 100).toFixed(0)}%`);
    const other = drainS * 1000 - outbox.ms.take - outbox.ms.ack - transport.publishMs;
    // CPU seconds of this process per run: what each side costs, whatever the machine's load.
    const cpuS = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;
    const bareCpuS = (cpuS(bareCpuBefore) + cpuS(bareCpuAfter)) / 2;
    console.log(`CPU (this process): drainer ${cpuS(cpu).toFixed(2)} s, bare ${bareCpuS.toFixed(2)} s (before ${cpuS(bareCpuBefore).toFixed(2)}, after ${cpuS(bareCpuAfter).toFixed(2)}); bare / drainer ${((bareCpuS / cpuS(cpu)) * 100).toFixed(0)}%; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`drainer main-thread time: take ${(outbox.ms.take / 1000).toFixed(2)} s, ack ${(outbox.ms.ack / 1000).toFixed(2)} s, publish call ${(transport.publishMs / 1000).toFixed(2)} s, rest (build, mqtt.js I/O, idle) ${(other / 1000).toFixed(2)} s; process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (user ${(cpu.user / 1e6).toFixed(2)}, sys ${(cpu.system / 1e6).toFixed(2)}); written to storage while draining ${mb(written)} MB`);
  } finally {
    await broker.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
