import type { Deleted, OutboxConnection } from './connection.js';
import { isFull, OutboxFullError, sqliteCode } from './errors.js';

/** Seqs per transaction when deleting on a full disk (a few pages of WAL each). */
const FULL_DISK_STEP = 16;

/** Sorted, deduplicated seqs as [lo, hi] runs of consecutive numbers: one DELETE per run. */
export function runs(seqs: readonly number[]): Array<[number, number]> {
  // Acks mostly come in order already; sorting thousands of seqs per flush is then wasted.
  let ordered = true;
  for (let i = 1; i < seqs.length && ordered; i++) ordered = seqs[i]! > seqs[i - 1]!;
  const sorted = ordered ? seqs : [...new Set(seqs)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

function pieces(all: ReadonlyArray<[number, number]>, n: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of all) {
    for (let a = lo; a <= hi; a += n) out.push([a, Math.min(hi, a + n - 1)]);
  }
  return out;
}

export interface DeleteRequest {
  seqs: readonly number[];
  counter: 'delivered_total' | 'dropped_total';
  /** Recorded as last_delivery (acks only). */
  deliveredAt?: string;
  path: string;
}

/**
 * Deletes seqs and counts what was actually deleted (seqs already gone count nothing), in
 * one transaction. On a full disk, where a delete needs WAL space too, it falls back to
 * small transactions that fit in the WAL's existing blocks, with a checkpoint before each;
 * OutboxFullError when even those fail.
 */
export function deleteSeqs(conn: OutboxConnection, req: DeleteRequest): Deleted {
  const once = (list: ReadonlyArray<[number, number]>): Deleted =>
    conn.write(() => {
      const total = { rows: 0, bytes: 0 };
      for (const [lo, hi] of list) {
        const d = conn.deleteRange(lo, hi);
        total.rows += d.rows;
        total.bytes += d.bytes;
      }
      conn.add(req.counter, total.rows);
      conn.add('queued_bytes', -total.bytes);
      if (req.deliveredAt !== undefined) conn.setLastDelivery(req.deliveredAt);
      return total;
    });
  const all = runs(req.seqs);
  try {
    return once(all);
  } catch (e) {
    if (!isFull(e)) throw e;
  }
  const total = { rows: 0, bytes: 0 };
  for (const piece of pieces(all, FULL_DISK_STEP)) {
    conn.checkpoint('PASSIVE');
    try {
      const d = once([piece]);
      total.rows += d.rows;
      total.bytes += d.bytes;
    } catch (e) {
      if (!isFull(e)) throw e;
      const what = req.counter === 'delivered_total' ? 'acknowledged' : 'dropped';
      throw new OutboxFullError(req.path, sqliteCode(e) ?? 'SQLITE_FULL', `could not delete ${what} results (${total.rows} of ${req.seqs.length} done); they stay queued`);
    }
  }
  return total;
}
