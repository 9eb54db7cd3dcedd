import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { OutboxConnection, type ConnectionSettings } from './connection.js';
import { errorText, isCorruption, OutboxError, OutboxUnavailableError } from './errors.js';
import { quarantine, type Quarantined } from './quarantine.js';

// Opening with recovery: a corrupt file is moved aside and a new database (a new stream)
// takes its place, so the agent never needs a human to start again.

export interface ConnectParams {
  path: string;
  settings: ConnectionSettings;
  logger: Logger;
  now: () => Date;
  /** A new database continues seqs after this one (0 at startup, see README). */
  seqBase: number;
  /** Corrupt databases replaced so far, written into a new database's meta. */
  corruptTotal: number;
}

const P = 'outbox: ';

function asUnavailable(path: string, e: unknown): Error {
  if (e instanceof OutboxError) return e;
  return new OutboxUnavailableError(path, `cannot open the database: ${errorText(e)}`);
}

function open(p: ConnectParams, corruptTotal: number): OutboxConnection {
  const init = () => ({ stream: randomBytes(16).toString('hex'), created: p.now().toISOString(), seqBase: p.seqBase, corruptTotal });
  return OutboxConnection.open(p.path, p.settings, init);
}

/** Moves the corrupt file aside and opens a new one in its place, counted in its meta. */
function replaceCorrupt(p: ConnectParams, e: unknown): OutboxConnection {
  let q: Quarantined;
  let conn: OutboxConnection;
  try {
    q = quarantine(p.path, p.now());
    conn = open(p, p.corruptTotal + 1);
  } catch (e2) {
    throw asUnavailable(p.path, e2);
  }
  const pruned = q.deleted.length > 0 ? `, deleted older copies ${q.deleted.join(' ')}` : '';
  const seqs = p.seqBase > 0 ? `, seqs continue after ${p.seqBase}` : '';
  p.logger.error(`${P}database ${p.path} is corrupt (${errorText(e)}); moved it aside to ${q.aside}${pruned}; new stream ${conn.meta().stream}${seqs}; ${p.corruptTotal + 1} corrupt so far`);
  return conn;
}

/** Opens the file at the path; a corrupt one found at open is moved aside, replaced, logged and counted. */
export function connect(p: ConnectParams): OutboxConnection {
  try {
    return open(p, p.corruptTotal);
  } catch (e) {
    if (!isCorruption(e)) throw asUnavailable(p.path, e);
    return replaceCorrupt(p, e);
  }
}

/**
 * Replaces the database after SQLite reported corruption (or that the file was deleted
 * under us) while running. The old connection must already be closed.
 */
export function reconnect(p: ConnectParams, e: unknown, corrupt: boolean): OutboxConnection {
  if (corrupt) return replaceCorrupt(p, e);
  const conn = connect(p);
  p.logger.error(`${P}database ${p.path} was deleted or moved while open (${errorText(e)}); now using stream ${conn.meta().stream}, seqs continue after ${p.seqBase}`);
  return conn;
}
