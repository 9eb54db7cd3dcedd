import type Database from 'better-sqlite3';
import { CorruptionError } from './errors.js';
import { firstEndingAtOrAfter, rangeHolding, type Range } from './ranges.js';
import { segmentTable } from './schema.js';

// Where the queued rows are, as the file says: segments (oldest first) and the `gone` seqs
// whose rows are still stored. Read by the agent at open and by the read-only tools.

export interface Segment {
  slot: number;
  /** Table holding its rows. */
  table: string;
  /** No row below this seq is stored in it. */
  lo: number;
  /** The newest seq stored in it. */
  hi: number;
  /** Queued rows (stored, not gone) and their JSON bytes. */
  rows: number;
  bytes: number;
  /** JSON bytes of every row stored in it, gone ones included. */
  stored: number;
}

export interface Layout {
  segments: Segment[];
  gone: Range[];
}

interface SegmentRow {
  slot: number;
  lo: number;
  hi: number;
  rows: number;
  bytes: number;
  stored: number;
}

/** Schema 2 reads the segments table; schema 1 is one segment with no gone seqs (read-only tools only). */
export function readLayout(db: Database.Database, version: number): Layout {
  if (version <= 1) return { segments: [{ slot: -1, table: 'results', lo: 0, hi: Number.MAX_SAFE_INTEGER, rows: 1, bytes: 0, stored: 0 }], gone: [] };
  const segments = db
    .prepare<[], SegmentRow>('SELECT slot, lo, hi, rows, bytes, stored FROM segments ORDER BY lo')
    .all()
    .map((r) => ({ ...r, table: segmentTable(r.slot) }));
  const gone = db.prepare<[], Range>('SELECT lo, hi FROM gone ORDER BY lo').raw(true).all();
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    const prev = segments[i - 1];
    if (s.lo > s.hi || (prev !== undefined && prev.hi >= s.lo)) throw new CorruptionError(`segments overlap or are empty at slot ${s.slot}`);
  }
  return { segments, gone };
}

/** Index of the first segment holding seqs above `afterSeq`. */
export function segmentAfter(segments: readonly Segment[], afterSeq: number): number {
  let a = 0;
  let b = segments.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (segments[m]!.hi <= afterSeq) a = m + 1;
    else b = m;
  }
  return a;
}

/** True when `seq` is in `gone`, walking forward from index *gi (seqs must come in increasing order). */
export function isGone(gone: readonly Range[], seq: number, gi: { i: number }): boolean {
  while (gi.i < gone.length && gone[gi.i]![1] < seq) gi.i++;
  const g = gone[gi.i];
  return g !== undefined && g[0] <= seq;
}

/** The oldest queued row: [seq, ts]. */
export function oldestLive(db: Database.Database, layout: Layout): { seq: number; ts: string } | undefined {
  for (const s of layout.segments) {
    if (s.rows === 0) continue;
    const st = db.prepare<[number], { seq: number; ts: string }>(`SELECT seq, ts FROM ${s.table} WHERE seq > ? ORDER BY seq LIMIT 1`);
    for (let after = s.lo - 1; ; ) {
      after = rangeHolding(layout.gone, after + 1)?.[1] ?? after;
      const row = st.get(after);
      if (row === undefined) break;
      if (rangeHolding(layout.gone, row.seq) === undefined) return row;
      after = row.seq;
    }
  }
  return undefined;
}

/** The newest queued row. */
export function newestLive(db: Database.Database, layout: Layout): { seq: number; ts: string } | undefined {
  for (let i = layout.segments.length - 1; i >= 0; i--) {
    const s = layout.segments[i]!;
    if (s.rows === 0) continue;
    const st = db.prepare<[number], { seq: number; ts: string }>(`SELECT seq, ts FROM ${s.table} WHERE seq < ? ORDER BY seq DESC LIMIT 1`);
    for (let before = Math.min(s.hi, Number.MAX_SAFE_INTEGER - 1) + 1; ; ) {
      const g = rangeHolding(layout.gone, before - 1);
      if (g !== undefined) before = g[0];
      const row = st.get(before);
      if (row === undefined) break;
      if (rangeHolding(layout.gone, row.seq) === undefined) return row;
      before = row.seq;
    }
  }
  return undefined;
}

/** Every queued row, oldest first: (seq, json). */
export function* liveRows(db: Database.Database, layout: Layout): Generator<[number, string]> {
  const gi = { i: 0 };
  for (const s of layout.segments) {
    gi.i = firstEndingAtOrAfter(layout.gone, s.lo);
    const st = db.prepare<[number], [number, string]>(`SELECT seq, json FROM ${s.table} WHERE seq >= ? ORDER BY seq`).raw(true);
    for (const [seq, json] of st.iterate(s.lo)) {
      if (!isGone(layout.gone, seq, gi)) yield [seq, json];
    }
  }
}
