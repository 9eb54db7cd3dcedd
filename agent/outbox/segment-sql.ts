import type Database from 'better-sqlite3';

// The statements of one segment table (see segments.ts).

/** Rows read for delivery, as parallel arrays (no object per row: reading is the drain's hot path). */
export interface Taken {
  seqs: number[];
  jsons: string[];
}

export interface Counted {
  rows: number;
  bytes: number;
}

export interface Freed extends Counted {
  /** JSON bytes of the rows removed from storage, gone ones included. */
  stored: number;
}

export function statements(db: Database.Database, table: string) {
  return {
    insert: db.prepare<[number, string, number, string]>(`INSERT INTO ${table} (seq, ts, bytes, json) VALUES (?, ?, ?, ?)`),
    take: db.prepare<[number, number], [number, string]>(`SELECT seq, json FROM ${table} WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true),
    // Only the JSON (pluck: no array per row) of a span of seqs: when it returns one row per
    // seq of the span, the seqs are known without reading them.
    takeSpan: db.prepare<[number, number], string>(`SELECT json FROM ${table} WHERE seq > ? AND seq <= ? ORDER BY seq`).pluck(true),
    count: db.prepare<[number, number], Counted>(`SELECT count(*) AS rows, coalesce(sum(bytes), 0) AS bytes FROM ${table} WHERE seq BETWEEN ? AND ?`),
    deleteTo: db.prepare<[number]>(`DELETE FROM ${table} WHERE seq <= ?`),
    // No WHERE: SQLite frees the table's pages without rewriting them (truncate optimization).
    clear: db.prepare(`DELETE FROM ${table}`),
    any: db.prepare<[], { seq: number }>(`SELECT seq FROM ${table} LIMIT 1`),
    sizes: db.prepare<[number], [number, number]>(`SELECT seq, bytes FROM ${table} WHERE seq < ? ORDER BY seq`).raw(true),
    oldest: db.prepare<[], { seq: number; ts: string }>(`SELECT seq, ts FROM ${table} ORDER BY seq LIMIT 1`),
    firstAtOrAfter: db.prepare<[string], { seq: number }>(`SELECT seq FROM ${table} WHERE ts >= ? ORDER BY seq LIMIT 1`),
  };
}
export type Statements = ReturnType<typeof statements>;

