import type { OutboxItem } from '../core/outbox.js';
import type { OutboxConnection } from './connection.js';
import type { Taken } from './segments.js';
import { deleteSeqs } from './deletes.js';

/**
 * Most acks wait to be committed together (see `Outbox.ack`); never more than this many:
 * it bounds what a crash sends again. With 500-result messages that is one commit (one
 * fsync with synchronous full) for eight messages instead of one each.
 */
export const ACK_FLUSH_ROWS = 4096;

/** Acks recorded but not committed yet: their seqs, the highest, and the latest ack's time. */
export class PendingAcks {
  private lists: number[][] = [];
  rows = 0;
  maxSeq = 0;
  /** ISO time of the latest ack: committed as last_delivery (the PUBACK's time, not the flush's). */
  at = '';
  /** Sizes of the rows take() handed out: what the acks are usually for. */
  readonly handed = new HandedOut();

  add(seqs: readonly number[], at: string): void {
    // A copy: the caller's array may be reused; the rows are deleted only when we flush.
    const list = seqs.slice();
    this.lists.push(list);
    this.rows += list.length;
    for (const s of list) if (s > this.maxSeq) this.maxSeq = s;
    this.at = at;
  }

  /**
   * Enough to commit now: bounded in rows (what a crash sends again). A commit writes a
   * few pages whatever its size (the rows' seqs become `gone` ranges; see segments.ts).
   */
  due(): boolean {
    return this.rows >= ACK_FLUSH_ROWS;
  }

  /** Deletes their rows and counts them delivered, in one transaction; they stay pending if that throws. */
  commit(conn: OutboxConnection, path: string): void {
    if (this.rows === 0) return;
    const seqs = this.lists.length === 1 ? this.lists[0]! : this.lists.flat();
    deleteSeqs(conn, { seqs, counter: 'delivered_total', deliveredAt: this.at, path, known: (lo, hi) => this.handed.bytes(lo, hi) });
    this.clear();
  }

  clear(): void {
    this.lists = [];
    this.rows = 0;
    this.maxSeq = 0;
  }

  /** The database was replaced: nothing known about it. */
  reset(): void {
    this.clear();
    this.handed.clear();
  }
}

/**
 * JSON bytes of the rows take() handed out lately, by seq (a ring over the last 64 K seqs,
 * -1 where take skipped one): acks of those rows are counted without reading them again.
 * Cleared when the database is replaced.
 */
export class HandedOut {
  private static readonly SIZE = 65_536;
  private readonly ring = new Int32Array(HandedOut.SIZE);
  /** Seqs lo..hi are in the ring (empty when hi < lo). */
  private lo = 1;
  private hi = 0;

  record(seq: number, bytes: number): void {
    if (this.hi < this.lo || seq <= this.hi || seq - this.hi > 1024) {
      // A rewind, or a jump: start a new window.
      this.lo = seq;
    } else {
      for (let s = this.hi + 1; s < seq; s++) this.ring[s % HandedOut.SIZE] = -1;
    }
    this.ring[seq % HandedOut.SIZE] = bytes;
    this.hi = seq;
    if (this.hi - this.lo >= HandedOut.SIZE) this.lo = this.hi - HandedOut.SIZE + 1;
  }

  /** Bytes of seqs lo..hi if take() handed out every one of them, else undefined. */
  bytes(lo: number, hi: number): number | undefined {
    if (lo < this.lo || hi > this.hi) return undefined;
    let n = 0;
    for (let s = lo; s <= hi; s++) {
      const b = this.ring[s % HandedOut.SIZE]!;
      if (b < 0) return undefined;
      n += b;
    }
    return n;
  }

  clear(): void {
    this.lo = 1;
    this.hi = 0;
  }
}

/** Rows read per query at least (a guess from the last read's average size can be far off). */
const MIN_READ = 16;

/**
 * A handed-out row. The uplink never reads `ts`: it is taken from the record (where append
 * stored it, exactly as the ts column) only if asked for, not read from the table.
 */
class StoredItem implements OutboxItem {
  constructor(
    readonly seq: number,
    readonly json: string,
  ) {}

  get ts(): string {
    return (JSON.parse(this.json) as { ts: string }).ts;
  }
}

/**
 * take(): the oldest rows after `afterSeq`, at most maxItems whose JSON totals <= maxBytes
 * (at least one). Reads materialize every row of their LIMIT, so the LIMIT comes from the
 * byte budget and the average row size seen so far (`avgBytes`, updated here): large
 * records would otherwise be read 500 at a time to send 30. Reads on when the guess was low.
 */
export function takeRows(conn: OutboxConnection, afterSeq: number, maxItems: number, maxBytes: number, avgBytes: { value: number }, handed: HandedOut): OutboxItem[] {
  const out: OutboxItem[] = [];
  let total = 0;
  let after = afterSeq;
  while (out.length < maxItems) {
    const guess = Math.ceil(((maxBytes - total) / avgBytes.value) * 1.25) + 1;
    const limit = Math.min(maxItems - out.length, Math.max(MIN_READ, guess));
    const rows: Taken = { seqs: [], jsons: [] };
    conn.store.take(after, limit, rows);
    const n = rows.seqs.length;
    let read = 0;
    for (let i = 0; i < n; i++) {
      // The stored bytes column holds the same number (append computed it this way).
      const bytes = Buffer.byteLength(rows.jsons[i]!);
      read += bytes;
      if (out.length > 0 && total + bytes > maxBytes) {
        avgBytes.value = Math.max(1, read / (i + 1));
        return out;
      }
      out.push(new StoredItem(rows.seqs[i]!, rows.jsons[i]!));
      handed.record(rows.seqs[i]!, bytes);
      total += bytes;
      after = rows.seqs[i]!;
    }
    if (n > 0) avgBytes.value = Math.max(1, read / n);
    if (n < limit) break; // nothing more stored
  }
  return out;
}
