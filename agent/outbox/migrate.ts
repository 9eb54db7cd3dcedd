import type Database from 'better-sqlite3';
import { resultsViewDdl, SCHEMA_VERSION, segmentTable, v2Ddl } from './schema.js';

/**
 * Schema 1 (one `results` table, seqs from AUTOINCREMENT) to 2, in one transaction, without
 * copying a row: the old table becomes segment slot 0, with whatever holes earlier deletes
 * left in it (the segment's counts come from its rows, not from the counters), and the
 * highest seq ever handed out moves from sqlite_sequence into meta. A Pi upgrading with a
 * backlog keeps every queued row, its stream, its seqs and its counters. A crash during it
 * leaves schema 1, migrated at the next open.
 */
export function migrateV1(db: Database.Database): void {
  db.transaction(() => {
    const seq = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'results'").get();
    db.exec(`ALTER TABLE results RENAME TO ${segmentTable(0)};\n${v2Ddl()}\n${resultsViewDdl([0])}`);
    const r = db.prepare<[], { n: number; lo: number | null; hi: number | null; b: number }>(`SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi, coalesce(sum(bytes), 0) AS b FROM ${segmentTable(0)}`).get();
    if (r !== undefined && r.n > 0 && r.lo !== null && r.hi !== null) {
      db.prepare('INSERT INTO segments (slot, lo, hi, rows, bytes, stored) VALUES (0, ?, ?, ?, ?, ?)').run(r.lo, r.hi, r.n, r.b, r.b);
    }
    db.prepare("INSERT INTO meta (key, value) VALUES ('last_seq', ?)").run(Math.max(seq?.seq ?? 0, r?.hi ?? 0));
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
