import type { Rollup } from './store.js';

/** One round's share of a bucket: what the rollup needs from a stored result. */
export interface RoundSample {
  target: string;
  sent: number;
  received: number;
  /** Per-packet RTTs in ms, null for a lost packet. */
  rtts: ReadonlyArray<number | null>;
}

/** Linear interpolation between closest ranks (numpy's default); `sorted` must be ascending and non-empty. */
export function percentile(sorted: readonly number[], p: number): number {
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  return round3(a + (sorted[hi]! - a) * (pos - lo));
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Summarizes the rounds of one bucket over every packet's RTT, not over per-round medians:
 * the spread a SmokePing chart draws is that of the packets.
 */
export function summarize(name: string, stepS: number, bucketStart: number, rounds: readonly RoundSample[]): Rollup {
  let sent = 0;
  let received = 0;
  const rtts: number[] = [];
  for (const r of rounds) {
    sent += r.sent;
    received += r.received;
    for (const v of r.rtts) if (v !== null) rtts.push(v);
  }
  rtts.sort((a, b) => a - b);
  const sum = rtts.reduce((s, v) => s + v, 0);
  return {
    name,
    // The latest round's target: a probe's target can be changed by a config push.
    target: rounds.at(-1)?.target ?? '',
    stepS,
    bucketStart,
    rounds: rounds.length,
    sent,
    received,
    lossPct: sent === 0 ? null : round3(((sent - received) / sent) * 100),
    rtt:
      rtts.length === 0
        ? null
        : {
            count: rtts.length,
            min: rtts[0]!,
            p10: percentile(rtts, 0.1),
            p25: percentile(rtts, 0.25),
            median: percentile(rtts, 0.5),
            p75: percentile(rtts, 0.75),
            p90: percentile(rtts, 0.9),
            max: rtts.at(-1)!,
            avg: round3(sum / rtts.length),
          },
  };
}

/** The start of the bucket of `step` seconds holding `ts` (epoch ms, UTC-aligned). */
export function bucketOf(ts: number, stepS: number): number {
  const ms = stepS * 1000;
  return Math.floor(ts / ms) * ms;
}
