import Database from 'better-sqlite3';
import { closeSync, fsyncSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { CorruptionError, OutboxUnavailableError } from './errors.js';
import { migrateV1 } from './migrate.js';
import { createSchema, inspect, readMeta, type Counter, type Meta, type SchemaInit } from './schema.js';
import { SegmentStore } from './segments.js';

export interface ConnectionSettings {
  synchronous: 'full' | 'normal';
  /** The WAL's share of max_mb: checkpoint at half of it, truncate the file back to it. */
  walBytes: number;
}

/** Writers never wait for readers in WAL mode; this only covers checkpoints and a second agent. */
const BUSY_TIMEOUT_MS = 1000;

/** The file changed on disk: the directory entry of a new database must reach the disk too. */
function fsyncDir(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function quickCheck(db: Database.Database): void {
  const rows = db.pragma('quick_check(20)') as Array<Record<string, unknown>>;
  const messages = rows.map((r) => String(Object.values(r)[0]));
  if (messages.length !== 1 || messages[0] !== 'ok') throw new CorruptionError(`quick_check: ${messages.slice(0, 3).join('; ')}`);
}

/**
 * One open database with its prepared statements: the storage primitives, without policy
 * (bounds, recovery and logging live in SqliteOutbox). All methods are synchronous and
 * none but write() opens a transaction; the caller wraps them in one. The rows live in
 * `store` (segments.ts).
 */
export class OutboxConnection {
  readonly pageSize: number;
  readonly store: SegmentStore;
  private readonly st;
  /** Device and inode of the file at open: SQLite in WAL mode does not notice it being unlinked. */
  private readonly identity: string;

  private constructor(
    readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.pageSize = Number(db.pragma('page_size', { simple: true }));
    this.identity = OutboxConnection.identityOf(path) ?? '';
    this.store = new SegmentStore(db);
    this.st = {
      used: db.prepare<[], { used: number }>('SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS used'),
      pages: db.prepare<[], { pages: number; free: number }>('SELECT (SELECT page_count FROM pragma_page_count()) AS pages, (SELECT freelist_count FROM pragma_freelist_count()) AS free'),
      add: db.prepare<[number, Counter]>('UPDATE meta SET value = value + ? WHERE key = ?'),
      setLastDelivery: db.prepare<[string]>("UPDATE meta SET value = ? WHERE key = 'last_delivery'"),
      setSeqReserved: db.prepare<[number]>("UPDATE meta SET value = ? WHERE key = 'seq_reserved'"),
    };
  }

  /**
   * Opens (creating when absent or empty) and checks the database. Corruption surfaces as
   * a thrown SQLITE_CORRUPT/SQLITE_NOTADB or CorruptionError for the caller to recover
   * from; a valid SQLite file that is not an outbox as OutboxUnavailableError.
   */
  static open(path: string, settings: ConnectionSettings, init: () => SchemaInit): OutboxConnection {
    const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    try {
      // Cheap extra checks of each b-tree cell as it is read: damage from a failing SD card
      // then shows up as SQLITE_CORRUPT (which we recover from) rather than as odd data.
      db.pragma('cell_size_check = ON');
      const state = inspect(db, (reason) => {
        throw new OutboxUnavailableError(path, reason);
      });
      if (state.kind === 'outbox') quickCheck(db);
      // Freed pages are reused by later inserts either way; incremental auto-vacuum also lets
      // the file shrink when max_mb was lowered. Only possible before the first table exists.
      else db.pragma('auto_vacuum = INCREMENTAL');
      const mode = String(db.pragma('journal_mode = WAL', { simple: true }));
      if (mode !== 'wal') throw new OutboxUnavailableError(path, `cannot switch to WAL mode (journal_mode is ${mode})`);
      db.pragma(`journal_size_limit = ${settings.walBytes}`);
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      db.pragma(`wal_autocheckpoint = ${Math.max(8, Math.floor(settings.walBytes / 2 / pageSize))}`);
      db.pragma('foreign_keys = OFF');
      db.pragma('secure_delete = OFF');
      if (state.kind === 'empty') {
        // The new stream is durable whatever `synchronous` says: a stream id that a power
        // loss could take back would be handed out again as a different one.
        db.pragma('synchronous = FULL');
        createSchema(db, init());
        fsyncDir(path);
      } else if (state.version === 1) {
        db.pragma('synchronous = FULL');
        migrateV1(db);
      }
      const conn = new OutboxConnection(db, path);
      conn.setSynchronous(settings.synchronous);
      conn.meta(); // validates the meta rows: a damaged meta table is corruption too
      return conn;
    } catch (e) {
      try {
        db.close();
      } catch {
        // already failing: the original error is the one to report
      }
      throw e;
    }
  }

  private static identityOf(path: string): string | undefined {
    const st = statSync(path, { throwIfNoEntry: false });
    return st === undefined ? undefined : `${st.dev}:${st.ino}`;
  }

  /** False when the file at the path is no longer the one we have open (deleted, replaced). */
  stillAtPath(): boolean {
    return OutboxConnection.identityOf(this.path) === this.identity;
  }

  /**
   * Runs fn in one IMMEDIATE transaction (the write lock up front: no upgrade deadlock).
   * If it fails, SQLite rolled back: the segments' in-memory copy is read again.
   */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      try {
        this.store.reload();
      } catch {
        // the original error says more (corruption: the caller replaces the file)
      }
      throw e;
    }
  }

  /** Outside transactions only (SQLite refuses to change it inside one). */
  setSynchronous(mode: 'full' | 'normal'): void {
    this.db.pragma(`synchronous = ${mode === 'full' ? 'FULL' : 'NORMAL'}`);
  }

  /** Bytes of pages in use (the freelist is reused before the file grows). */
  usedBytes(): number {
    return Number(this.st.used.get()?.used ?? 0) * this.pageSize;
  }

  pages(): { pages: number; free: number } {
    return this.st.pages.get() ?? { pages: 0, free: 0 };
  }

  add(counter: Counter, delta: number): void {
    if (delta !== 0) this.st.add.run(delta, counter);
  }

  setLastDelivery(iso: string): void {
    this.st.setLastDelivery.run(iso);
  }

  setSeqReserved(seq: number): void {
    this.st.setSeqReserved.run(seq);
  }

  meta(): Meta {
    return readMeta(this.db);
  }

  lastSeq(): number {
    return this.store.lastSeq;
  }

  /** Returns pages to the file system (auto_vacuum = INCREMENTAL); outside any transaction. */
  releaseFreePages(pages: number): void {
    this.db.pragma(`incremental_vacuum(${Math.max(0, Math.floor(pages))})`);
  }

  checkpoint(mode: 'PASSIVE' | 'RESTART' | 'TRUNCATE'): void {
    this.db.pragma(`wal_checkpoint(${mode})`);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
