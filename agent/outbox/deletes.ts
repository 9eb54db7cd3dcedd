import type { OutboxConnection } from './connection.js';
import { isFull, OutboxFullError, sqliteCode } from './errors.js';
import { runs, type Range } from './ranges.js';
import type { Counted } from './segments.js';

export { runs } from './ranges.js';

/** Seq runs per transaction when marking on a full disk (each a few pages of WAL). */
const FULL_DISK_STEP = 16;

export interface DeleteRequest {
  seqs: readonly number[];
  counter: 'delivered_total' | 'dropped_total';
  /** Recorded as last_delivery (acks only). */
  deliveredAt?: string;
  path: string;
  /** Bytes of seqs lo..hi when all are known to be stored (see SegmentStore.markGone). */
  known?: (lo: number, hi: number) => number | undefined;
}

/**
 * Removes seqs from the queue (delivered or dropped) and counts what was actually queued
 * (seqs already gone count nothing), in one transaction: their seqs become `gone`, and
 * segments left with nothing queued are emptied (segments.ts). On a full disk, where even
 * that needs WAL space, it falls back to smaller transactions, with a checkpoint before
 * each; OutboxFullError when even those fail.
 */
export function deleteSeqs(conn: OutboxConnection, req: DeleteRequest): Counted {
  const once = (list: readonly Range[]): Counted =>
    conn.write(() => {
      const total = conn.store.markGone(list, req.known);
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
  for (let i = 0; i < all.length; i += FULL_DISK_STEP) {
    conn.checkpoint('PASSIVE');
    try {
      const d = once(all.slice(i, i + FULL_DISK_STEP));
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
