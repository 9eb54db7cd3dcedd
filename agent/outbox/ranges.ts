// Sets of seqs as sorted, disjoint, non-adjacent [lo, hi] ranges: how acked (and dropped)
// seqs are tracked until their rows are freed with their segment (see segments.ts).

export type Range = [lo: number, hi: number];

/** Seqs (any order, duplicates allowed) as sorted runs of consecutive numbers. */
export function runs(seqs: readonly number[]): Range[] {
  // Acks mostly come in order already; sorting thousands of seqs per flush is then wasted.
  let ordered = true;
  for (let i = 1; i < seqs.length && ordered; i++) ordered = seqs[i]! > seqs[i - 1]!;
  const sorted = ordered ? seqs : [...new Set(seqs)].sort((a, b) => a - b);
  const out: Range[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** Index of the first range whose hi >= seq (ranges.length if none). */
export function firstEndingAtOrAfter(ranges: readonly Range[], seq: number): number {
  let a = 0;
  let b = ranges.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (ranges[m]![1] < seq) a = m + 1;
    else b = m;
  }
  return a;
}

/** The range holding seq, if any. */
export function rangeHolding(ranges: readonly Range[], seq: number): Range | undefined {
  const r = ranges[firstEndingAtOrAfter(ranges, seq)];
  return r !== undefined && r[0] <= seq ? r : undefined;
}

/** The parts of `a` (sorted, disjoint) that are not in `b`. */
export function subtract(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  for (const [lo0, hi] of a) {
    let lo = lo0;
    for (let i = firstEndingAtOrAfter(b, lo); i < b.length && lo <= hi; i++) {
      const [blo, bhi] = b[i]!;
      if (blo > hi) break;
      if (blo > lo) out.push([lo, blo - 1]);
      lo = bhi + 1;
    }
    if (lo <= hi) out.push([lo, hi]);
  }
  return out;
}

/** The parts of `a` within [lo, hi]. */
export function clip(a: readonly Range[], lo: number, hi: number): Range[] {
  const out: Range[] = [];
  for (let i = firstEndingAtOrAfter(a, lo); i < a.length && a[i]![0] <= hi; i++) {
    out.push([Math.max(lo, a[i]![0]), Math.min(hi, a[i]![1])]);
  }
  return out;
}

/** The union of two range sets, adjacent ranges merged. */
export function union(a: readonly Range[], b: readonly Range[]): Range[] {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Range[] = [];
  for (const [lo, hi] of all) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** Total count of seqs in the ranges. */
export function size(a: readonly Range[]): number {
  let n = 0;
  for (const [lo, hi] of a) n += hi - lo + 1;
  return n;
}
