import type Database from 'better-sqlite3';
import { CorruptionError } from './errors.js';

/** 'fpob' in the database header, so a foreign SQLite file is never mistaken for ours. */
export const APPLICATION_ID = 0x66706f62;
export const SCHEMA_VERSION = 1;

// Small columns before json, so that bounds and drops read seq/bytes from the b-tree cell
// without touching overflow pages of large records. AUTOINCREMENT keeps seqs from ever
// being reused, even after the newest rows were deleted.
const DDL = `
CREATE TABLE results (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  ts    TEXT    NOT NULL,
  bytes INTEGER NOT NULL,
  json  TEXT    NOT NULL
);
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value
) WITHOUT ROWID;
`;

/** Counters kept in the meta table; each is changed in the transaction that causes it. */
export type Counter = 'generated_total' | 'dropped_total' | 'delivered_total' | 'queued_bytes';

export interface SchemaInit {
  stream: string;
  created: string;
  /** Seqs of this stream start after this one (see README: recovery while running). */
  seqBase: number;
  corruptTotal: number;
}

/** What is in an opened file: nothing yet (new or empty file), or our schema. */
export type FileState = 'empty' | 'outbox';

/**
 * Reads the header (this is where garbage files fail with SQLITE_NOTADB). A valid SQLite
 * file that is not ours is reported through `foreign`, never treated as corrupt: moving
 * someone else's database aside would be wrong.
 */
export function inspect(db: Database.Database, foreign: (reason: string) => never): FileState {
  const appId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'").all().map((r) => r.name);
  if (appId === 0 && version === 0 && tables.length === 0) return 'empty';
  if (appId !== APPLICATION_ID) return foreign(`not a fleetprobe outbox (application_id ${appId}, tables: ${tables.join(', ') || 'none'})`);
  if (version > SCHEMA_VERSION) return foreign(`outbox schema version ${version} is newer than this agent's (${SCHEMA_VERSION})`);
  for (const t of ['results', 'meta']) {
    if (!tables.includes(t)) throw new CorruptionError(`table ${t} is missing`);
  }
  return 'outbox';
}

/** Creates the schema in one transaction: a crash leaves either nothing or a whole outbox. */
export function createSchema(db: Database.Database, init: SchemaInit): void {
  db.transaction(() => {
    db.exec(DDL);
    const put = db.prepare<[string, string | number | null]>('INSERT INTO meta (key, value) VALUES (?, ?)');
    put.run('stream', init.stream);
    put.run('created', init.created);
    // Seqs up to this one may have been handed out (see SqliteOutbox: synchronous normal).
    put.run('seq_reserved', init.seqBase);
    put.run('generated_total', 0);
    put.run('dropped_total', 0);
    put.run('delivered_total', 0);
    put.run('last_delivery', null);
    put.run('corrupt_total', init.corruptTotal);
    put.run('queued_bytes', 0);
    if (init.seqBase > 0) db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('results', ?)").run(init.seqBase);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

export interface Meta {
  stream: string;
  created: string;
  seq_reserved: number;
  generated_total: number;
  dropped_total: number;
  delivered_total: number;
  last_delivery: string | null;
  corrupt_total: number;
  queued_bytes: number;
}

export function readMeta(db: Database.Database): Meta {
  const rows = db.prepare<[], { key: string; value: unknown }>('SELECT key, value FROM meta').all();
  const m = new Map(rows.map((r) => [r.key, r.value]));
  const num = (k: string): number => {
    const v = m.get(k);
    if (typeof v !== 'number' && typeof v !== 'bigint') throw new CorruptionError(`meta ${k} is missing or not a number`);
    return Number(v);
  };
  const stream = m.get('stream');
  if (typeof stream !== 'string') throw new CorruptionError('meta stream is missing');
  const created = m.get('created');
  const last = m.get('last_delivery');
  return {
    stream,
    created: typeof created === 'string' ? created : '',
    seq_reserved: num('seq_reserved'),
    generated_total: num('generated_total'),
    dropped_total: num('dropped_total'),
    delivered_total: num('delivered_total'),
    last_delivery: typeof last === 'string' ? last : null,
    corrupt_total: num('corrupt_total'),
    queued_bytes: num('queued_bytes'),
  };
}

/** The highest seq ever handed out in this file (0 before the first append). */
export function lastSeq(db: Database.Database): number {
  const row = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'results'").get();
  return row === undefined ? 0 : Number(row.seq);
}
