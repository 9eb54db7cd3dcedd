// Outbox throughput on this machine's disk: append (one transaction per round) for rounds
// of 1, 10, 100 and 1000 results, with synchronous full and normal; then the drain,
// take + ack in batches as the uplink does it, and the JSON concatenation it needs.
// Run: node dist/bench/outbox-write.js [--dir D] [--seconds S] [--drain N] [--batch B]
// (--dir must be on the disk to measure: /tmp may be a tmpfs, where fsync costs nothing.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from '../agent/core/logger.js';
import type { ProbeResult } from '../agent/core/result.js';
import { openOutbox } from '../agent/outbox/index.js';
import { round } from '../test/helpers/outbox-fixtures.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: tmpdir() },
    seconds: { type: 'string', default: '2' },
    drain: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '500' },
  },
});
const seconds = Number(values.seconds);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function withOutbox<T>(synchronous: 'full' | 'normal', fn: (o: ReturnType<typeof openOutbox>) => T): T {
  const dir = mkdtempSync(join(values.dir, 'fp-outbox-bench-'));
  const outbox = openOutbox({ path: join(dir, 'outbox.db'), max_mb: 4096, synchronous, logger: quiet });
  try {
    return fn(outbox);
  } finally {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rounds of `size` results appended for `seconds` (at least 3 rounds); results/s. */
function appendRate(synchronous: 'full' | 'normal', size: number): { perS: number; roundMs: number } {
  // Pre-built records: what is measured is serialization plus the transaction.
  const pool: ProbeResult[][] = Array.from({ length: 16 }, (_, i) => round(i * size, size));
  return withOutbox(synchronous, (outbox) => {
    let n = 0;
    let rounds = 0;
    const t0 = performance.now();
    while (rounds < 3 || performance.now() - t0 < seconds * 1000) {
      n += outbox.append(pool[rounds % pool.length]!).length;
      rounds++;
    }
    const ms = performance.now() - t0;
    return { perS: (n / ms) * 1000, roundMs: ms / rounds };
  });
}

/** Fills `total` results, then take(batch) + concatenate + ack until empty; results/s. */
function drainRate(synchronous: 'full' | 'normal', total: number, batch: number): { perS: number; batchMs: number } {
  return withOutbox(synchronous, (outbox) => {
    for (let i = 0; i < total; i += 1000) outbox.append(round(i, Math.min(1000, total - i)));
    let after = 0;
    let n = 0;
    let batches = 0;
    let bytes = 0;
    const t0 = performance.now();
    for (;;) {
      const items = outbox.take(after, batch, 256 * 1024);
      if (items.length === 0) break;
      const payload = `{"stream":"${outbox.stream}","results":[${items.map((i) => `{"seq":${i.seq},${i.json.slice(1)}`).join(',')}]}`;
      bytes += payload.length;
      outbox.ack(items.map((i) => i.seq));
      after = items[items.length - 1]!.seq;
      n += items.length;
      batches++;
    }
    const ms = performance.now() - t0;
    if (n !== total || bytes === 0) throw new Error(`drained ${n} of ${total}`);
    return { perS: (n / ms) * 1000, batchMs: ms / batches };
  });
}

const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
console.log(`outbox benchmark in ${values.dir} (node ${process.version}, ${seconds} s per case)`);
console.log('append, one transaction per round:');
for (const synchronous of ['full', 'normal'] as const) {
  for (const size of [1, 10, 100, 1000]) {
    const r = appendRate(synchronous, size);
    console.log(`  synchronous=${synchronous.padEnd(6)} round of ${String(size).padStart(4)}: ${fmt(r.perS).padStart(9)} results/s  (${r.roundMs.toFixed(3)} ms per round)`);
  }
}
const total = Number(values.drain);
const batch = Number(values.batch);
console.log(`drain, take(${batch}, 256 KiB) + build payload + ack, ${fmt(total)} results:`);
for (const synchronous of ['full', 'normal'] as const) {
  const r = drainRate(synchronous, total, batch);
  console.log(`  synchronous=${synchronous.padEnd(6)}: ${fmt(r.perS).padStart(9)} results/s  (${r.batchMs.toFixed(3)} ms per batch)`);
}
