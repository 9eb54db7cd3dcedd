import type Database from 'better-sqlite3';
import { CorruptionError } from './errors.js';

/** 'fpob' in the database header, so a foreign SQLite file is never mistaken for ours. */
export const APPLICATION_ID = 0x66706f62;
/** 1: one `results` table. 2: segment tables (see README, Schema); version 1 files are migrated at open. */
export const SCHEMA_VERSION = 2;
/**
 * Segment tables are made when first needed and then reused in turn, never dropped: the
 * schema changes only while a backlog grows beyond any before (a schema change makes
 * SQLite prepare every statement again). A backlog beyond MAX_SLOTS segments makes the
 * newest one grow instead. (Views are limited to 500 compound terms.)
 */
export const MAX_SLOTS = 256;

export const segmentTable = (slot: number): string => `seg_${slot}`;

// Small columns before json, so that bounds and counts read seq/bytes from the b-tree cell
// without touching overflow pages of large records.
export const segmentDdl = (slot: number): string => `CREATE TABLE ${segmentTable(slot)} (
  seq   INTEGER PRIMARY KEY,
  ts    TEXT    NOT NULL,
  bytes INTEGER NOT NULL,
  json  TEXT    NOT NULL
);`;

/**
 * `results`: the queued rows, for people and tools looking inside with sqlite3 (the agent
 * reads the segment tables directly). A row is live unless a `gone` range holds its seq.
 */
export function resultsViewDdl(slots: readonly number[]): string {
  const live = 'coalesce((SELECT g.hi FROM gone g WHERE g.lo <= r.seq ORDER BY g.lo DESC LIMIT 1), 0) < r.seq';
  const parts = slots.map((k) => `SELECT r.seq, r.ts, r.bytes, r.json FROM ${segmentTable(k)} r WHERE ${live}`);
  if (parts.length === 0) parts.push('SELECT NULL, NULL, NULL, NULL WHERE 0');
  return `DROP VIEW IF EXISTS results;\nCREATE VIEW results (seq, ts, bytes, json) AS\n  ${parts.join('\n  UNION ALL ')};`;
}

/** Slots whose segment table exists. */
export function slotTables(db: Database.Database): number[] {
  return db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'seg_[0-9]*'")
    .all()
    .map((r) => Number(r.name.slice(4)))
    .sort((a, b) => a - b);
}

/** Makes a slot's table (and the view over all of them); inside the caller's transaction. */
export function createSlot(db: Database.Database, slot: number, existing: readonly number[]): void {
  db.exec(`${segmentDdl(slot)}\n${resultsViewDdl([...existing, slot])}`);
}

/** Tables of version 2 besides meta and the segment tables. */
export function v2Ddl(): string {
  return `
CREATE TABLE segments (
  slot   INTEGER PRIMARY KEY,
  lo     INTEGER NOT NULL,
  hi     INTEGER NOT NULL,
  rows   INTEGER NOT NULL,
  bytes  INTEGER NOT NULL,
  stored INTEGER NOT NULL
);
CREATE TABLE gone (
  lo INTEGER PRIMARY KEY,
  hi INTEGER NOT NULL
);
`;
}

/** Counters kept in the meta table; each is changed in the transaction that causes it. */
export type Counter = 'generated_total' | 'dropped_total' | 'delivered_total' | 'queued_bytes';

export interface SchemaInit {
  stream: string;
  created: string;
  /** Seqs of this stream start after this one (see README: recovery while running). */
  seqBase: number;
  corruptTotal: number;
}

/** What is in an opened file: nothing yet (new or empty file), or our schema at a version. */
export type FileState = { kind: 'empty' } | { kind: 'outbox'; version: number };

/**
 * Reads the header (this is where garbage files fail with SQLITE_NOTADB). A valid SQLite
 * file that is not ours is reported through `foreign`, never treated as corrupt: moving
 * someone else's database aside would be wrong.
 */
export function inspect(db: Database.Database, foreign: (reason: string) => never): FileState {
  const appId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')").all().map((r) => r.name);
  if (appId === 0 && version === 0 && tables.length === 0) return { kind: 'empty' };
  if (appId !== APPLICATION_ID) return foreign(`not a fleetprobe outbox (application_id ${appId}, tables: ${tables.join(', ') || 'none'})`);
  if (version > SCHEMA_VERSION) return foreign(`outbox schema version ${version} is newer than this agent's (${SCHEMA_VERSION})`);
  const needed = version <= 1 ? ['results', 'meta'] : ['meta', 'segments', 'gone'];
  for (const t of needed) {
    if (!tables.includes(t)) throw new CorruptionError(`table ${t} is missing`);
  }
  return { kind: 'outbox', version: Math.max(1, version) };
}

/** Creates the schema in one transaction: a crash leaves either nothing or a whole outbox. */
export function createSchema(db: Database.Database, init: SchemaInit): void {
  db.transaction(() => {
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;\n${v2Ddl()}\n${segmentDdl(0)}\n${resultsViewDdl([0])}`);
    const put = db.prepare<[string, string | number | null]>('INSERT INTO meta (key, value) VALUES (?, ?)');
    put.run('stream', init.stream);
    put.run('created', init.created);
    // The highest seq handed out: seqs are never reused, not even after deletes.
    put.run('last_seq', init.seqBase);
    // Seqs up to this one may have been handed out (see SqliteOutbox: synchronous normal).
    put.run('seq_reserved', init.seqBase);
    put.run('generated_total', 0);
    put.run('dropped_total', 0);
    put.run('delivered_total', 0);
    put.run('last_delivery', null);
    put.run('corrupt_total', init.corruptTotal);
    put.run('queued_bytes', 0);
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

/** The highest seq ever handed out in this (version 2) file. */
export function lastSeq(db: Database.Database): number {
  const row = db.prepare<[], { value: unknown }>("SELECT value FROM meta WHERE key = 'last_seq'").get();
  if (row === undefined || (typeof row.value !== 'number' && typeof row.value !== 'bigint')) throw new CorruptionError('meta last_seq is missing or not a number');
  return Number(row.value);
}
