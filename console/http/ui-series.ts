import { bucketOf, summarize, type RoundSample } from '../store/rollup-math.js';
import type { Rollup, Store, StoredResult } from '../store/store.js';
import { chooseResolution } from '../api/history.js';

// What the device chart and the fleet sparklines draw: per probe, columns of time, the RTT
// spread (min, p10, p25, median, p75, p90, max) and loss, with a null row wherever data is
// missing so that the chart breaks the line instead of drawing across an outage.
//
// Short ranges come from raw results (one point per round); longer ones from the store's
// 5-minute or 1-hour rollups, so that a year of 5-second rounds is ~9,000 points, not 6
// million. Rollups of a bucket are computed only after it ended; the recent tail they do
// not cover yet is bucketed here from raw results, the same way the store does it.

export interface ProbeSeries {
  name: string;
  target: string;
  /** Epoch seconds (what uPlot wants). */
  t: number[];
  min: Array<number | null>;
  p10: Array<number | null>;
  p25: Array<number | null>;
  median: Array<number | null>;
  p75: Array<number | null>;
  p90: Array<number | null>;
  max: Array<number | null>;
  /** Percent; null on a gap row or a bucket without packets. */
  loss: Array<number | null>;
}

export interface ChartData {
  from: number;
  to: number;
  /** 0: raw rounds. */
  stepS: number;
  probes: ProbeSeries[];
  /** The raw query hit its row limit: the newest part of the range is missing. */
  truncated: boolean;
}

/** Raw rows read for one chart. 6 h of 5-second rounds of 10 probes is 43,200. */
export const RAW_ROW_LIMIT = 60_000;
/** How far back the un-rolled tail is filled from raw results. */
const TAIL_MAX_MS = 6 * 3600_000;

export function stepFor(spanMs: number): 0 | 300 | 3600 {
  const r = chooseResolution(spanMs);
  return r === 'raw' ? 0 : r;
}

export async function chartData(store: Store, q: { device: string; target?: string; from: number; to: number; stepS?: 0 | 300 | 3600 }): Promise<ChartData> {
  const stepS = q.stepS ?? stepFor(q.to - q.from);
  const base = { device: q.device, ...(q.target ? { target: q.target } : {}) };
  if (stepS === 0) {
    const { results, truncated } = await store.results({ ...base, from: q.from, to: q.to, limit: RAW_ROW_LIMIT });
    return { from: q.from, to: q.to, stepS, probes: rawSeries(results), truncated };
  }
  const from = bucketOf(q.from, stepS);
  const rollups = await store.rollups({ ...base, stepS, from, to: q.to });
  // Where the stored rollups of each probe end; the rest comes from raw rounds.
  const covered = new Map<string, number>();
  for (const r of rollups) covered.set(r.name, Math.max(covered.get(r.name) ?? 0, r.bucketStart + stepS * 1000));
  const coverEnd = covered.size === 0 ? from : Math.min(...covered.values());
  const tailFrom = Math.max(coverEnd, q.to - TAIL_MAX_MS, from);
  let truncated = false;
  const extra: Rollup[] = [];
  if (tailFrom < q.to) {
    const raw = await store.results({ ...base, from: tailFrom, to: q.to, limit: RAW_ROW_LIMIT });
    truncated = raw.truncated;
    for (const r of bucketRaw(raw.results, stepS)) if (r.bucketStart >= (covered.get(r.name) ?? 0)) extra.push(r);
  }
  return { from: q.from, to: q.to, stepS, probes: rollupSeries([...rollups, ...extra], stepS), truncated };
}

/** Rollups of `stepS` computed from raw rounds (the not yet rolled-up tail). */
export function bucketRaw(results: readonly StoredResult[], stepS: number): Rollup[] {
  const groups = new Map<string, { name: string; start: number; rounds: RoundSample[] }>();
  for (const r of results) {
    const start = bucketOf(Date.parse(r.ts), stepS);
    const key = `${r.name}\u0000${start}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: r.name, start, rounds: [] }));
    g.rounds.push({ target: r.target, sent: r.sent, received: r.received, rtts: r.rtts_ms });
  }
  return [...groups.values()].map((g) => summarize(g.name, stepS, g.start, g.rounds));
}

function emptySeries(name: string, target: string): ProbeSeries {
  return { name, target, t: [], min: [], p10: [], p25: [], median: [], p75: [], p90: [], max: [], loss: [] };
}

function push(s: ProbeSeries, tMs: number, r: Rollup | null): void {
  s.t.push(tMs / 1000);
  const rtt = r?.rtt ?? null;
  s.min.push(rtt?.min ?? null);
  s.p10.push(rtt?.p10 ?? null);
  s.p25.push(rtt?.p25 ?? null);
  s.median.push(rtt?.median ?? null);
  s.p75.push(rtt?.p75 ?? null);
  s.p90.push(rtt?.p90 ?? null);
  s.max.push(rtt?.max ?? null);
  s.loss.push(r?.lossPct ?? null);
}

/** Bucket rows in time order, a null row in each run of missing buckets. */
export function rollupSeries(rollups: readonly Rollup[], stepS: number): ProbeSeries[] {
  const byName = new Map<string, Rollup[]>();
  for (const r of rollups) {
    const list = byName.get(r.name);
    if (list) list.push(r);
    else byName.set(r.name, [r]);
  }
  const stepMs = stepS * 1000;
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => {
    list.sort((a, b) => a.bucketStart - b.bucketStart);
    const s = emptySeries(name, list.at(-1)!.target);
    let prev: number | null = null;
    for (const r of list) {
      if (prev !== null && r.bucketStart === prev) continue;
      if (prev !== null && r.bucketStart > prev + stepMs) push(s, prev + stepMs + stepMs / 2, null);
      // A bucket is drawn at its middle: the 13:00 hour describes 13:00-14:00.
      push(s, r.bucketStart + stepMs / 2, r);
      prev = r.bucketStart;
    }
    return s;
  });
}

/**
 * One row per round. A break is longer than 2.5 times the probe's usual interval (the median
 * spacing of its rounds), so a 60-second probe that misses two rounds shows a gap.
 */
export function rawSeries(results: readonly StoredResult[]): ProbeSeries[] {
  const byName = new Map<string, StoredResult[]>();
  for (const r of results) {
    const list = byName.get(r.name);
    if (list) list.push(r);
    else byName.set(r.name, [r]);
  }
  return [...byName.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => {
    const rows = list.map((r) => ({ ts: Date.parse(r.ts), r })).sort((a, b) => a.ts - b.ts);
    const s = emptySeries(name, rows.at(-1)!.r.target);
    const spacing = medianSpacing(rows.map((x) => x.ts));
    let prev: number | null = null;
    for (const { ts, r } of rows) {
      if (prev !== null && spacing !== null && ts - prev > spacing * 2.5) push(s, prev + spacing, null);
      push(s, ts, summarize(name, 0, ts, [{ target: r.target, sent: r.sent, received: r.received, rtts: r.rtts_ms }]));
      prev = ts;
    }
    return s;
  });
}

function medianSpacing(ts: readonly number[]): number | null {
  if (ts.length < 3) return null;
  const d: number[] = [];
  for (let i = 1; i < ts.length; i++) d.push(ts[i]! - ts[i - 1]!);
  d.sort((a, b) => a - b);
  return Math.max(d[Math.floor(d.length / 2)]!, 1);
}

/**
 * The fleet list's sparkline: per bucket, the median RTT over the device's probes (mean of
 * their medians), null where there is none.
 */
export function sparkline(data: ChartData): Array<number | null> {
  const stepMs = data.stepS * 1000;
  const n = Math.max(1, Math.ceil((data.to - bucketOf(data.from, data.stepS)) / stepMs));
  const first = bucketOf(data.from, data.stepS);
  const sum = new Array<number>(n).fill(0);
  const cnt = new Array<number>(n).fill(0);
  for (const p of data.probes) {
    p.t.forEach((t, i) => {
      const v = p.median[i];
      if (v === null || v === undefined) return;
      const k = Math.floor((t * 1000 - first) / stepMs);
      if (k >= 0 && k < n) {
        sum[k]! += v;
        cnt[k]! += 1;
      }
    });
  }
  return sum.map((v, k) => (cnt[k] === 0 ? null : Math.round((v / cnt[k]!) * 1000) / 1000));
}
