import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import type { OutboxStats } from '../core/outbox.js';
import { errorText, NotAnOutboxError, OutboxUnavailableError } from './errors.js';
import { liveRows, readLayout, type Layout } from './layout.js';
import { inspect } from './schema.js';
import { collectStats, fileBytes } from './stats.js';
import { snapshotImage } from './wal-snapshot.js';

// For the CLI (`fleetprobe outbox stats|export`), typically run as root next to the
// service running as its own user: these never create, modify or chown a file.

/**
 * With both -wal and -shm present (the service is running, or it crashed) SQLite opens the
 * database read-only through them, with its normal locking, and creates nothing. Otherwise
 * no writer is running, and SQLite would create -wal and -shm: read an in-memory snapshot
 * instead (see wal-snapshot.ts).
 */
function openReadOnly(path: string): { db: Database.Database; layout: Layout } {
  if (!existsSync(path)) throw new OutboxUnavailableError(path, 'does not exist');
  const live = existsSync(`${path}-wal`) && existsSync(`${path}-shm`);
  let db: Database.Database;
  try {
    db = live ? new Database(path, { readonly: true, fileMustExist: true }) : new Database(snapshotImage(path), { readonly: true });
  } catch (e) {
    throw new OutboxUnavailableError(path, `cannot read: ${errorText(e)}`);
  }
  try {
    const state = inspect(db, (reason) => {
      throw new NotAnOutboxError(path, reason);
    });
    if (state.kind === 'empty') throw new NotAnOutboxError(path, 'empty database: the outbox was never initialized');
    // A schema 1 file (an agent not yet upgraded) is read as it is: nothing is migrated here.
    return { db, layout: readLayout(db, state.version) };
  } catch (e) {
    db.close();
    throw e;
  }
}

/** Stats of the outbox at `path`, read-only. */
export function readOutboxStats(path: string): OutboxStats {
  const { db, layout } = openReadOnly(path);
  try {
    return collectStats(db, layout, fileBytes(path));
  } finally {
    db.close();
  }
}

/**
 * Writes every stored result, oldest first, as one NDJSON line `{"seq":N,...record}` (no
 * newline: `write` adds the separator it wants). Read-only; one read transaction, so the
 * export is a consistent snapshot even while the service appends. Returns the count.
 */
export function exportOutbox(path: string, write: (line: string) => void): number {
  const { db, layout } = openReadOnly(path);
  try {
    let n = 0;
    for (const [seq, json] of liveRows(db, layout)) {
      write(json === '{}' ? `{"seq":${seq}}` : `{"seq":${seq},${json.slice(1)}`);
      n++;
    }
    return n;
  } finally {
    db.close();
  }
}
