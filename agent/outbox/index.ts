// The outbox's public surface: the agent opens it, the CLI reads it.
export { openOutbox, SqliteOutbox, type OutboxOptions } from './sqlite-outbox.js';
export { exportOutbox, readOutboxStats } from './read-only.js';
export { NotAnOutboxError, OutboxError, OutboxFullError, OutboxUnavailableError } from './errors.js';
export type { FreeSpace } from './disk-space.js';
