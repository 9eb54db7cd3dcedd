import { statfsSync } from 'node:fs';
import type { Budget } from './budget.js';
import type { OutboxConnection } from './connection.js';
import { isFull } from './errors.js';

// The file system can be fuller than max_mb assumes (a small card, logs filling it). Two
// layers: before each append, when free space is low, the outbox stops growing and gives
// space back by itself (so SQLite rarely sees a full disk); when SQLITE_FULL happens anyway
// it drops the oldest rows, returns their pages to the file system and retries.
//
// What makes a full disk hard: every change, deletes included, is first written to the
// WAL, about one 4 KiB frame per page touched, and a checkpoint can only copy frames into
// the database if the database file need not grow. So on a full disk only transactions
// that fit in the WAL's existing blocks can run, and space is won back in small steps.

/** Bytes an unprivileged process may still write on the file system holding `dir`. */
export type FreeSpace = (dir: string) => number;

export const statfsFreeSpace: FreeSpace = (dir) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

export interface SpacePlan {
  /** Bytes of pages the table may use after this append. */
  limitBytes: number;
  /** How far below the limit a trim goes (small when low: a trim's pages all go through the WAL). */
  hysteresisBytes: number;
  /** Free space is low: checkpoint after every commit, give freed pages back. */
  low: boolean;
  /** Free space beyond the reserve (negative: the outbox should shrink by that much). */
  headroom: number;
}

/**
 * Space always left free while low: room for the WAL frames of a commit (its round plus
 * what it trims) and for the checkpoint after it.
 */
export function reserveFor(roundBytes: number): number {
  return Math.max(256 * 1024, 4 * roundBytes);
}

export function planSpace(budget: Budget, fileBytes: number, available: number, roundBytes: number): SpacePlan {
  const reserve = reserveFor(roundBytes);
  const headroom = available - reserve;
  const low = available < budget.walBytes + 2 * reserve;
  if (!low) return { limitBytes: budget.dataBytes, hysteresisBytes: budget.hysteresisBytes, low, headroom };
  // Pages already in the file cost no new space; beyond them only the headroom may be used.
  return { limitBytes: Math.min(budget.dataBytes, fileBytes + headroom), hysteresisBytes: Math.min(budget.hysteresisBytes, Math.max(16 * 1024, roundBytes)), low, headroom };
}

function passiveCheckpoint(conn: OutboxConnection): void {
  try {
    conn.checkpoint('PASSIVE');
  } catch (e) {
    if (!isFull(e)) throw e;
  }
}

/**
 * Hands free pages at the end of the file back to the file system (auto_vacuum =
 * INCREMENTAL moves pages down, the checkpoint truncates the file). Best effort: returns
 * how many pages were released, 0 when even that found no room.
 */
export function releasePages(conn: OutboxConnection, maxPages: number): number {
  const before = conn.pages();
  const n = Math.min(before.free, Math.ceil(maxPages));
  if (n <= 0) return 0;
  try {
    conn.releaseFreePages(n);
  } catch (e) {
    if (!isFull(e)) throw e;
  }
  passiveCheckpoint(conn);
  return Math.max(0, before.pages - conn.pages().pages);
}

/**
 * Low on space, after a commit: keep the WAL backfilled (its blocks are then reused, never
 * grown) and give back what the outbox holds beyond its share of the remaining space.
 * Best effort, and never SQLITE_FULL to the caller: the round is already committed.
 */
export function keepRoom(conn: OutboxConnection, plan: SpacePlan): void {
  passiveCheckpoint(conn);
  if (plan.headroom < 0) releasePages(conn, -plan.headroom / conn.pageSize);
}

export interface Room {
  dropped: number;
  released: number;
}

/**
 * After SQLITE_FULL (the transaction was rolled back): frees about `bytes` on the file
 * system by dropping the oldest rows and releasing their pages, in steps that start at a
 * few pages (small enough for the WAL blocks already allocated) and double as space comes
 * back. A checkpoint before each step lets the WAL be rewritten from its start.
 */
export function makeRoom(conn: OutboxConnection, bytes: number): Room {
  const room = { dropped: 0, released: 0 };
  let step = 4;
  while (room.released * conn.pageSize < bytes) {
    passiveCheckpoint(conn);
    let dropped = 0;
    if (conn.pages().free < step) {
      try {
        dropped = conn.write(() => {
          const perByte = conn.usedBytes() / Math.max(1, conn.store.storedBytes());
          const d = conn.store.dropOldest((step * conn.pageSize) / perByte, Number.MAX_SAFE_INTEGER);
          conn.add('dropped_total', d.rows);
          conn.add('queued_bytes', -d.bytes);
          return d.rows;
        });
      } catch (e) {
        if (!isFull(e)) throw e;
      }
      passiveCheckpoint(conn);
    }
    const released = releasePages(conn, step);
    room.dropped += dropped;
    room.released += released;
    if (dropped === 0 && released === 0) break;
    step = Math.min(step * 2, 1024);
  }
  return room;
}
