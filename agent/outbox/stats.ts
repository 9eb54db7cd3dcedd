import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { OutboxStats } from '../core/outbox.js';
import { newestLive, oldestLive, type Layout } from './layout.js';
import { readMeta } from './schema.js';

/** Size of the database file plus its WAL, as they are on disk now. */
export function fileBytes(path: string): number {
  let total = 0;
  for (const f of [path, `${path}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // a missing WAL is normal (clean shutdown)
    }
  }
  return total;
}

/**
 * Stats from the meta counters, without scanning the table (a full scan of 64 MB on an SD
 * card takes seconds): rows follow from the counters, which every insert and delete updates
 * in its own transaction, so generated = queued + delivered + dropped holds exactly.
 */
export function collectStats(db: Database.Database, layout: Layout, onDiskBytes: number): OutboxStats {
  const m = readMeta(db);
  const generated = m.generated_total;
  return {
    stream: m.stream,
    rows: generated - m.delivered_total - m.dropped_total,
    bytes: m.queued_bytes,
    file_bytes: onDiskBytes,
    oldest: oldestLive(db, layout)?.ts ?? null,
    newest: newestLive(db, layout)?.ts ?? null,
    dropped_total: m.dropped_total,
    generated_total: generated,
    delivered_total: m.delivered_total,
    last_delivery: m.last_delivery,
    corrupt_total: m.corrupt_total,
  };
}
