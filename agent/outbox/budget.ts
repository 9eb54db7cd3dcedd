import type { OutboxConnection } from './connection.js';

const MiB = 1024 * 1024;
/** -shm is 32 KiB for any WAL below ~16 MB (it grows by 32 KiB per ~4,000 WAL frames). */
const SHM_BYTES = 32 * 1024;

/**
 * How max_mb is split between the files: the WAL gets 1/16 (between 64 KiB and 4 MiB), the
 * -shm its 32 KiB, the table pages the rest. SQLite checkpoints when the WAL reaches half
 * its share, so that the transaction that crosses that mark (a round and a trim) still
 * ends within it; the WAL file is truncated back to its share. Dropping goes below the data
 * limit by a hysteresis (1/128), so that a full outbox drops in chunks instead of a few
 * rows every round.
 */
export interface Budget {
  totalBytes: number;
  walBytes: number;
  dataBytes: number;
  hysteresisBytes: number;
  /** A segment takes appends until it stores this much JSON (see segments.ts). */
  segmentBytes: number;
}

export function budgetFor(maxMb: number, pageSize = 4096): Budget {
  const totalBytes = Math.floor(maxMb * MiB);
  const walBytes = Math.min(4 * MiB, Math.max(64 * 1024, Math.floor(totalBytes / 16 / pageSize) * pageSize));
  const dataBytes = Math.max(16 * pageSize, totalBytes - walBytes - SHM_BYTES);
  const hysteresisBytes = Math.max(4 * pageSize, Math.floor(dataBytes / 128));
  // About 8 segments in use when full. At most 4 MiB each: emptying one reads its pages
  // (to free them), five times faster while they are still in SQLite's page cache (16 MB
  // in better-sqlite3's build) from being sent; measured with 2, 8, 16 and 64 MiB.
  const segmentBytes = Math.min(4 * MiB, Math.max(32 * 1024, Math.floor(dataBytes / 8)));
  return { totalBytes, walBytes, dataBytes, hysteresisBytes, segmentBytes };
}

export interface Trimmed {
  rows: number;
}

/**
 * Drops the oldest rows (below `keepFrom`, i.e. never the round being committed) until the
 * pages in use fit `limitBytes` (the data budget, or less when the disk is short of space).
 * Call inside the append transaction. Freed pages stay in the file's freelist and are
 * reused by the next inserts, so the file does not grow. Rows already delivered (gone, in a
 * segment not emptied yet) go first and count nothing.
 */
export function trimToBudget(conn: OutboxConnection, limitBytes: number, hysteresisBytes: number, keepFrom: number): Trimmed {
  let used = conn.usedBytes();
  if (used <= limitBytes) return { rows: 0 };
  const target = limitBytes - hysteresisBytes;
  let rows = 0;
  while (used > target) {
    // Page bytes per stored JSON byte (b-tree overhead, partly filled pages): turns the
    // excess in pages into an amount of record bytes to drop.
    const perByte = used / Math.max(1, conn.store.storedBytes());
    const d = conn.store.dropOldest((used - target) / perByte, keepFrom);
    if (d.stored === 0) break;
    conn.add('dropped_total', d.rows);
    conn.add('queued_bytes', -d.bytes);
    rows += d.rows;
    used = conn.usedBytes();
  }
  return { rows };
}

/**
 * Drops rows older than max_age_days: the oldest rows by seq while their ts is before the
 * cutoff. A row with an old ts behind a newer one (the clock was stepped back) waits until
 * it is the oldest; age pruning never scans the whole table. Never drops rows above maxSeq.
 */
export function pruneByAge(conn: OutboxConnection, cutoffIso: string, maxSeq: number): Trimmed {
  const oldest = conn.store.oldestStored();
  if (oldest === undefined || oldest.ts >= cutoffIso || oldest.seq > maxSeq) return { rows: 0 };
  const firstYoung = conn.store.firstAtOrAfter(cutoffIso);
  const d = conn.store.dropThrough(firstYoung === undefined ? maxSeq : Math.min(maxSeq, firstYoung - 1));
  conn.add('dropped_total', d.rows);
  conn.add('queued_bytes', -d.bytes);
  return { rows: d.rows };
}
