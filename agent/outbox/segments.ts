import type Database from 'better-sqlite3';
import { statements, type Counted, type Freed, type Statements, type Taken } from './segment-sql.js';
import { isGone, readLayout, segmentAfter, type Segment } from './layout.js';
import { clip, firstEndingAtOrAfter, rangeHolding, subtract, union, type Range } from './ranges.js';
import { createSlot, lastSeq, MAX_SLOTS, SCHEMA_VERSION, segmentTable, slotTables } from './schema.js';

export type { Counted, Freed, Taken } from './segment-sql.js';

/**
 * The rows of the outbox, in segments: tables that each hold a span of seqs (slots, made
 * when first needed and reused in turn). Appends go to the newest segment until it holds `targetBytes`. Acks and
 * drops only add their seqs to `gone` (a few ranges); a segment whose rows are all gone is
 * emptied whole, which frees its pages without writing them (a DELETE of rows writes every
 * page it touches to the WAL, and the checkpoint writes it again). Bounds that must free
 * part of the oldest segment delete its oldest rows.
 *
 * The in-memory copy follows the file: every write runs inside the caller's transaction,
 * and the caller reloads it when a transaction fails (OutboxConnection.write).
 */
export class SegmentStore {
  segments: Segment[] = [];
  gone: Range[] = [];
  lastSeq = 0;
  /** Slots whose table exists, and their statements (prepared when first used). */
  private tables = new Set<number>();
  private readonly prepared = new Map<number, Statements>();
  private readonly w;

  constructor(private readonly db: Database.Database) {
    this.w = {
      putSegment: db.prepare<[number, number, number, number, number, number]>('INSERT OR REPLACE INTO segments (slot, lo, hi, rows, bytes, stored) VALUES (?, ?, ?, ?, ?, ?)'),
      deleteSegment: db.prepare<[number]>('DELETE FROM segments WHERE slot = ?'),
      putGone: db.prepare<[number, number]>('INSERT OR REPLACE INTO gone (lo, hi) VALUES (?, ?)'),
      deleteGone: db.prepare<[number]>('DELETE FROM gone WHERE lo = ?'),
      setLastSeq: db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'last_seq'"),
    };
    this.reload();
  }

  reload(): void {
    const layout = readLayout(this.db, SCHEMA_VERSION);
    this.segments = layout.segments;
    this.gone = layout.gone;
    this.lastSeq = lastSeq(this.db);
    this.tables = new Set(slotTables(this.db));
    for (const slot of this.prepared.keys()) if (!this.tables.has(slot)) this.prepared.delete(slot);
  }

  private st(slot: number): Statements {
    let st = this.prepared.get(slot);
    if (st === undefined) {
      st = statements(this.db, segmentTable(slot));
      this.prepared.set(slot, st);
    }
    return st;
  }

  /** JSON bytes stored, gone rows included (what the pages in use hold). */
  storedBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.stored;
    return n;
  }

  /** Up to `limit` queued rows with seq > afterSeq, oldest first, appended to `out`. */
  take(afterSeq: number, limit: number, out: Taken): void {
    const gi = { i: 0 };
    const want = (): number => limit - out.seqs.length;
    for (let k = segmentAfter(this.segments, afterSeq); k < this.segments.length && want() > 0; k++) {
      const s = this.segments[k]!;
      const st = this.st(s.slot);
      let dense = this.isDense(s);
      let from = Math.max(afterSeq, s.lo - 1);
      while (want() > 0) {
        // Skip a gone span without reading it (a restart with a half-delivered segment).
        from = rangeHolding(this.gone, from + 1)?.[1] ?? from;
        if (from >= s.hi) break;
        gi.i = firstEndingAtOrAfter(this.gone, from + 1);
        if (dense) {
          // Every seq up to the next gone one should be stored: read only the JSON.
          const end = Math.min(s.hi, (this.gone[gi.i]?.[0] ?? Infinity) - 1);
          const n = Math.min(want(), end - from);
          const jsons = st.takeSpan.all(from, from + n);
          if (jsons.length === n) {
            for (let i = 0; i < n; i++) out.seqs.push(from + 1 + i);
            for (const j of jsons) out.jsons.push(j);
            from += n;
            continue;
          }
          dense = false; // a hole after all: read the seqs too
        }
        const n = want();
        const rows = st.take.all(from, n);
        for (const [seq, json] of rows) {
          if (isGone(this.gone, seq, gi)) continue;
          out.seqs.push(seq);
          out.jsons.push(json);
        }
        if (rows.length < n) break;
        from = rows[rows.length - 1]![0];
      }
    }
  }

  /** Every seq of `s` that is not gone is stored (no holes from older deletes or a seq jump). */
  private isDense(s: Segment): boolean {
    let gone = 0;
    for (const [lo, hi] of clip(this.gone, s.lo, s.hi)) gone += hi - lo + 1;
    return s.rows === s.hi - s.lo + 1 - gone;
  }

  /** Stores one round in the newest segment (a new one when it is full and a slot is free); returns its seqs. */
  insert(rows: ReadonlyArray<{ ts: string; bytes: number; json: string }>, targetBytes: number): number[] {
    let s = this.segments[this.segments.length - 1];
    if (s === undefined || s.stored >= targetBytes) s = this.newSegment() ?? s;
    if (s === undefined) throw new Error('outbox: no segment slot free'); // unreachable: MAX_SLOTS > 0
    const { insert } = this.st(s.slot);
    const seqs: number[] = [];
    let bytes = 0;
    for (const r of rows) {
      const seq = ++this.lastSeq;
      insert.run(seq, r.ts, r.bytes, r.json);
      seqs.push(seq);
      bytes += r.bytes;
    }
    s.hi = this.lastSeq;
    s.rows += rows.length;
    s.bytes += bytes;
    s.stored += bytes;
    this.putSegment(s);
    this.w.setLastSeq.run(this.lastSeq);
    return seqs;
  }

  /** Makes the next seq follow `seq` (never lowers it). */
  raiseSeq(seq: number): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.w.setLastSeq.run(seq);
  }

  /**
   * Marks seqs delivered or dropped. Counts only queued rows (stored, not gone already);
   * segments left with no queued row are emptied. `known(lo, hi)` gives the bytes of seqs
   * that are all known to be stored (take() handed them out), saving a count query.
   */
  markGone(seqs: readonly Range[], known?: (lo: number, hi: number) => number | undefined): Counted {
    const fresh = subtract(seqs, this.gone);
    const total = { rows: 0, bytes: 0 };
    const added: Range[] = [];
    const touched: Segment[] = [];
    for (const s of this.segments) {
      const pieces = clip(fresh, s.lo, s.hi);
      if (pieces.length === 0) continue;
      for (const [lo, hi] of pieces) {
        // Handed out and still within the segment's stored span and not gone: stored.
        const b = known?.(lo, hi);
        const c = b !== undefined ? { rows: hi - lo + 1, bytes: b } : (this.st(s.slot).count.get(lo, hi) ?? { rows: 0, bytes: 0 });
        if (c.rows === 0) continue;
        s.rows -= c.rows;
        s.bytes -= c.bytes;
        total.rows += c.rows;
        total.bytes += c.bytes;
        added.push([lo, hi]);
      }
      touched.push(s);
    }
    const before = this.gone;
    this.gone = union(this.gone, added);
    for (const s of touched) {
      if (s.rows <= 0) this.clear(s);
      else this.putSegment(s);
    }
    this.writeGone(before);
    return total;
  }

  /** Removes the oldest stored rows, about `bytes` of JSON, never seqs >= keepFrom. Counts the queued ones. */
  dropOldest(bytes: number, keepFrom: number): Freed {
    const out = { rows: 0, bytes: 0, stored: 0 };
    const before = this.gone;
    while (out.stored < bytes) {
      const s = this.segments[0];
      if (s === undefined || s.lo >= keepFrom) break;
      let upTo = s.hi;
      if (s.hi >= keepFrom || s.stored > bytes - out.stored) {
        const c = this.covering(s, bytes - out.stored, keepFrom);
        if (c === undefined) break;
        upTo = c;
      }
      const f = this.dropFront(s, upTo);
      out.rows += f.rows;
      out.bytes += f.bytes;
      out.stored += f.stored;
    }
    this.writeGone(before);
    return out;
  }

  /** Removes every stored row with seq <= upTo. Counts the queued ones. */
  dropThrough(upTo: number): Freed {
    const out = { rows: 0, bytes: 0, stored: 0 };
    const before = this.gone;
    while (this.segments[0] !== undefined && this.segments[0].lo <= upTo) {
      const f = this.dropFront(this.segments[0], upTo);
      out.rows += f.rows;
      out.bytes += f.bytes;
      out.stored += f.stored;
    }
    this.writeGone(before);
    return out;
  }

  /** The oldest stored row (gone or not). */
  oldestStored(): { seq: number; ts: string } | undefined {
    const s = this.segments[0];
    return s === undefined ? undefined : this.st(s.slot).oldest.get();
  }

  /** The first stored row, by seq, whose ts is at or after `ts`. */
  firstAtOrAfter(ts: string): number | undefined {
    for (const s of this.segments) {
      const r = this.st(s.slot).firstAtOrAfter.get(ts);
      if (r !== undefined) return r.seq;
    }
    return undefined;
  }

  /** The newest seq among the oldest rows of `s` (below keepFrom) whose bytes add up to `bytes`. */
  private covering(s: Segment, bytes: number, keepFrom: number): number | undefined {
    let sum = 0;
    let last: number | undefined;
    for (const [seq, b] of this.st(s.slot).sizes.iterate(keepFrom)) {
      last = seq;
      sum += b;
      if (sum >= bytes) break;
    }
    return last;
  }

  /** Deletes the rows of `s` up to `upTo` (all of them: empties it). Gone ranges are written by the caller. */
  private dropFront(s: Segment, upTo: number): Freed {
    if (upTo >= s.hi) {
      const f = { rows: s.rows, bytes: s.bytes, stored: s.stored };
      this.clear(s);
      return f;
    }
    const st = this.st(s.slot);
    const out = { rows: 0, bytes: 0, stored: st.count.get(s.lo, upTo)?.bytes ?? 0 };
    for (const [lo, hi] of subtract([[s.lo, upTo]], this.gone)) {
      const c = st.count.get(lo, hi) ?? { rows: 0, bytes: 0 };
      out.rows += c.rows;
      out.bytes += c.bytes;
    }
    st.deleteTo.run(upTo);
    this.gone = subtract(this.gone, [[s.lo, upTo]]);
    s.lo = upTo + 1;
    s.rows -= out.rows;
    s.bytes -= out.bytes;
    s.stored -= out.stored;
    if (s.rows <= 0) this.clear(s);
    else this.putSegment(s);
    return out;
  }

  /** Empties a segment and frees its slot. */
  private clear(s: Segment): void {
    this.st(s.slot).clear.run();
    this.w.deleteSegment.run(s.slot);
    this.gone = subtract(this.gone, [[s.lo, s.hi]]);
    this.segments = this.segments.filter((x) => x !== s);
  }

  private newSegment(): Segment | undefined {
    const used = new Set(this.segments.map((s) => s.slot));
    for (let slot = 0; slot < MAX_SLOTS; slot++) {
      if (used.has(slot)) continue;
      if (!this.tables.has(slot)) {
        createSlot(this.db, slot, [...this.tables]);
        this.tables.add(slot);
      }
      // A free slot's table is empty (emptied in the transaction that freed it); make sure.
      else if (this.st(slot).any.get() !== undefined) this.st(slot).clear.run();
      const s: Segment = { slot, table: segmentTable(slot), lo: this.lastSeq + 1, hi: this.lastSeq, rows: 0, bytes: 0, stored: 0 };
      this.segments.push(s);
      return s;
    }
    return undefined;
  }

  private putSegment(s: Segment): void {
    this.w.putSegment.run(s.slot, s.lo, s.hi, s.rows, s.bytes, s.stored);
  }

  /** Writes the difference between `before` and the current gone ranges. */
  private writeGone(before: readonly Range[]): void {
    if (before === this.gone) return;
    const was = new Map(before.map((r) => [r[0], r[1]]));
    const nowLo = new Set(this.gone.map((r) => r[0]));
    for (const [lo] of before) if (!nowLo.has(lo)) this.w.deleteGone.run(lo);
    for (const [lo, hi] of this.gone) if (was.get(lo) !== hi) this.w.putGone.run(lo, hi);
  }
}
