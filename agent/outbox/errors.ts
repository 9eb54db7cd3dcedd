// Errors the outbox hands to its caller, and the classification of SQLite's own errors.

/** Base class, so a caller can tell outbox failures from programming errors. */
export class OutboxError extends Error {
  constructor(
    readonly code: 'OUTBOX_UNAVAILABLE' | 'OUTBOX_FULL' | 'OUTBOX_NOT_AN_OUTBOX',
    message: string,
  ) {
    // The daemon prints this message as its one line before exiting: never let it wrap.
    super(message.replace(/\s*[\r\n]+\s*/g, ' '));
  }
}

/**
 * The database cannot be opened or written where it is: state directory missing or
 * read-only, files not writable by this user, a file in the way. Nothing was changed on
 * disk. The daemon prints the message and exits 73 (EX_CANTCREAT).
 */
export class OutboxUnavailableError extends OutboxError {
  override readonly name = 'OutboxUnavailableError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('OUTBOX_UNAVAILABLE', `outbox ${path}: ${reason}`);
  }
}

/**
 * The file system is full and nothing more could be freed: append() could not store a round
 * even after dropping the older results it could (the round is lost: `results` says how
 * many), or ack()/drop() could not delete. The outbox stays usable: the caller logs the
 * message and carries on (keeps probing; an unacknowledged batch is simply sent again).
 */
export class OutboxFullError extends OutboxError {
  override readonly name = 'OutboxFullError';
  constructor(
    readonly path: string,
    readonly sqliteCode: string,
    detail: string,
    /** Results of the round that could not be stored (0 for ack/drop). */
    readonly results = 0,
  ) {
    super('OUTBOX_FULL', `outbox ${path}: disk full (${sqliteCode}): ${detail}`);
  }
}

/** A read-only tool was pointed at a file that is not a fleetprobe outbox. */
export class NotAnOutboxError extends OutboxError {
  override readonly name = 'NotAnOutboxError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('OUTBOX_NOT_AN_OUTBOX', `outbox ${path}: ${reason}`);
  }
}

/** Raised internally when quick_check finds damage that SQLite itself did not throw on. */
export class CorruptionError extends Error {
  override readonly name = 'CorruptionError';
  readonly code = 'SQLITE_CORRUPT';
}

/** The (extended) SQLite result code of an error from better-sqlite3, if it is one. */
export function sqliteCode(e: unknown): string | undefined {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('SQLITE_')) return e.code;
  return undefined;
}

/** Damage to the file itself: the only errors that justify moving a database aside. */
export function isCorruption(e: unknown): boolean {
  if (e instanceof CorruptionError) return true;
  const code = sqliteCode(e);
  return code !== undefined && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** SQLITE_FULL: the file system (or max_page_count) has no room for the transaction. */
export function isFull(e: unknown): boolean {
  return sqliteCode(e) === 'SQLITE_FULL';
}

/** The file we hold open was unlinked or renamed under us (someone deleted outbox.db). */
export class FileMovedError extends Error {
  override readonly name = 'FileMovedError';
  readonly code = 'SQLITE_READONLY_DBMOVED';
}

export function isMoved(e: unknown): boolean {
  return e instanceof FileMovedError || sqliteCode(e) === 'SQLITE_READONLY_DBMOVED';
}

export function errorText(e: unknown): string {
  const code = sqliteCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}
