/** Round summary statistics over unique in-time replies, from per-packet RTTs in µs. */
export interface RttStats {
  min_ms: number | null;
  avg_ms: number | null;
  max_ms: number | null;
  mdev_ms: number | null;
  median_ms: number | null;
  jitter_ms: number | null;
}

const toMs = (us: number): number => Math.round(us) / 1000;

export function rttStats(rttsUs: readonly (number | null)[]): RttStats {
  const got = rttsUs.filter((r): r is number => r !== null);
  if (got.length === 0) return { min_ms: null, avg_ms: null, max_ms: null, mdev_ms: null, median_ms: null, jitter_ms: null };
  const n = got.length;
  const sum = got.reduce((a, b) => a + b, 0);
  const avg = sum / n;
  // iputils: mdev = sqrt(mean(rtt^2) - mean(rtt)^2), the population deviation.
  const sumSq = got.reduce((a, b) => a + b * b, 0);
  const mdev = Math.sqrt(Math.max(0, sumSq / n - avg * avg));
  const sorted = [...got].sort((a, b) => a - b);
  const mid = n >> 1;
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  let jitter: number | null = null;
  if (n >= 2) {
    let d = 0;
    for (let i = 1; i < n; i++) d += Math.abs(got[i]! - got[i - 1]!);
    jitter = d / (n - 1);
  }
  return {
    min_ms: toMs(sorted[0]!),
    avg_ms: toMs(avg),
    max_ms: toMs(sorted[n - 1]!),
    mdev_ms: toMs(mdev),
    median_ms: toMs(median),
    jitter_ms: jitter === null ? null : toMs(jitter),
  };
}

export function lossPct(sent: number, received: number): number {
  if (sent === 0) return 100;
  return Math.round(((sent - received) / sent) * 100 * 1000) / 1000;
}
