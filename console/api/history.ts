import { ROLLUP_STEPS_S, type Rollup, type Store, type StoredResult } from '../store/store.js';

// A SmokePing-style series for any range: raw rounds for short ranges, 5-minute or 1-hour
// rollups for long ones, so that a year is 8,760 points per target, not 6 million rounds.
// Missing buckets are simply absent: a chart shows them as gaps.

export type Resolution = 'raw' | (typeof ROLLUP_STEPS_S)[number];

export interface HistoryPoint {
  t: string;
  rounds: number;
  sent: number;
  received: number;
  loss_pct: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
  /** The smoke: percentiles of per-packet RTTs (rollups) or the packets themselves (raw). */
  p10?: number | null;
  p25?: number | null;
  p75?: number | null;
  p90?: number | null;
  rtts?: Array<number | null>;
}

export interface HistorySeries {
  name: string;
  target: string;
  points: HistoryPoint[];
}

/** Raw rounds up to this span; 5-minute buckets up to 8 days (a week at 2,016 points); 1-hour beyond. */
export const RAW_MAX_SPAN_MS = 6 * 3_600_000;
export const FIVE_MIN_MAX_SPAN_MS = 8 * 86_400_000;

/** The one choice of resolution for a span, shared by the API's history and the web UI's charts. */
export function chooseResolution(spanMs: number): Resolution {
  if (spanMs <= RAW_MAX_SPAN_MS) return 'raw';
  if (spanMs <= FIVE_MIN_MAX_SPAN_MS) return 300;
  return 3600;
}

const RAW_LIMIT = 50_000;

export async function history(
  store: Pick<Store, 'results' | 'rollups'>,
  q: { device: string; target?: string; from: number; to: number; resolution: Resolution },
): Promise<{ resolution: Resolution; series: HistorySeries[]; truncated: boolean }> {
  const base = { device: q.device, from: q.from, to: q.to, ...(q.target === undefined ? {} : { target: q.target }) };
  const series = new Map<string, HistorySeries>();
  const add = (name: string, target: string, p: HistoryPoint): void => {
    let s = series.get(name);
    if (!s) series.set(name, (s = { name, target, points: [] }));
    s.target = target;
    s.points.push(p);
  };
  if (q.resolution === 'raw') {
    const { results, truncated } = await store.results({ ...base, limit: RAW_LIMIT });
    for (const r of results) add(r.name, r.target, rawPoint(r));
    return { resolution: 'raw', series: [...series.values()], truncated };
  }
  for (const r of await store.rollups({ ...base, stepS: q.resolution })) add(r.name, r.target, rollupPoint(r));
  return { resolution: q.resolution, series: [...series.values()], truncated: false };
}

function rawPoint(r: StoredResult): HistoryPoint {
  return {
    t: r.ts, rounds: 1, sent: r.sent, received: r.received, loss_pct: r.sent === 0 ? null : r.loss_pct,
    median: r.median_ms, min: r.min_ms, max: r.max_ms, rtts: r.rtts_ms,
  };
}

function rollupPoint(r: Rollup): HistoryPoint {
  return {
    t: new Date(r.bucketStart).toISOString(), rounds: r.rounds, sent: r.sent, received: r.received, loss_pct: r.lossPct,
    median: r.rtt?.median ?? null, min: r.rtt?.min ?? null, max: r.rtt?.max ?? null,
    p10: r.rtt?.p10 ?? null, p25: r.rtt?.p25 ?? null, p75: r.rtt?.p75 ?? null, p90: r.rtt?.p90 ?? null,
  };
}
