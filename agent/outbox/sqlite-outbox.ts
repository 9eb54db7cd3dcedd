import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { Outbox, OutboxItem, OutboxStats } from '../core/outbox.js';
import type { ProbeResult } from '../core/result.js';
import { budgetFor, dropForSpace, pruneByAge, trimToBudget, type Budget } from './budget.js';
import { OutboxConnection, type Deleted } from './connection.js';
import { DropReporter } from './drop-reporter.js';
import { errorText, isCorruption, isFull, isMoved, OutboxError, OutboxFullError, OutboxUnavailableError, sqliteCode } from './errors.js';
import { preflight } from './preflight.js';
import { quarantine } from './quarantine.js';
import { collectStats, fileBytes } from './stats.js';

export interface OutboxOptions {
  path: string;
  max_mb: number;
  max_age_days?: number;
  synchronous: 'full' | 'normal';
  logger: Logger;
  now?: () => Date;
}

interface Row {
  ts: string;
  bytes: number;
  json: string;
}

const DAY_MS = 86_400_000;
const P = 'outbox: ';

/** Sorted, deduplicated seqs as [lo, hi] runs of consecutive numbers: one DELETE per run. */
function runs(seqs: readonly number[]): Array<[number, number]> {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** Opens (or creates) the outbox at opts.path. Throws OutboxUnavailableError (one line) when it cannot. */
export function openOutbox(opts: OutboxOptions): SqliteOutbox {
  if (!(opts.max_mb > 0) || (opts.max_age_days !== undefined && !(opts.max_age_days > 0))) {
    throw new RangeError(`outbox: max_mb must be > 0 and max_age_days > 0 (got ${opts.max_mb}, ${opts.max_age_days})`);
  }
  preflight(opts.path);
  return new SqliteOutbox(opts);
}

/**
 * The agent's durable store (see README.md here for the guarantees). Every public method is
 * synchronous and runs at most a few short transactions; corruption found while running is
 * recovered from in place (new file, new stream) and the call is retried once.
 */
export class SqliteOutbox implements Outbox {
  private conn: OutboxConnection | undefined;
  private streamId = '';
  /** Highest seq handed out: a database recreated while running continues after it. */
  private seqHigh = 0;
  private corruptTotal = 0;
  private readonly budget: Budget;
  private readonly now: () => Date;
  private readonly drops: DropReporter;

  constructor(private readonly opts: OutboxOptions) {
    this.now = opts.now ?? (() => new Date());
    this.budget = budgetFor(opts.max_mb);
    this.drops = new DropReporter(opts.logger, this.now, P);
    this.conn = this.connect(0);
    // max_mb or max_age_days may have been lowered since the last run.
    const conn = this.connection();
    this.reportBounds(conn.write(() => this.applyBounds(conn, Number.MAX_SAFE_INTEGER)));
    this.shrinkFile();
    const s = this.stats();
    opts.logger.info(`${P}${opts.path}: stream ${s.stream}, ${s.rows} results queued (${s.bytes} bytes), last seq ${this.seqHigh}, synchronous ${opts.synchronous}, max_mb ${opts.max_mb}`);
  }

  get stream(): string {
    return this.streamId;
  }

  append(results: readonly ProbeResult[]): number[] {
    if (results.length === 0) return [];
    const rows: Row[] = results.map((r) => {
      const json = JSON.stringify(r);
      return { ts: r.ts, bytes: Buffer.byteLength(json), json };
    });
    return this.guarded(() => this.appendRows(rows));
  }

  take(afterSeq: number, maxItems: number, maxBytes: number): OutboxItem[] {
    if (maxItems < 1) return [];
    return this.guarded(() => {
      const out: OutboxItem[] = [];
      let total = 0;
      for (const row of this.connection().take(afterSeq, maxItems)) {
        if (out.length > 0 && total + row.bytes > maxBytes) break;
        out.push({ seq: row.seq, ts: row.ts, json: row.json });
        total += row.bytes;
      }
      return out;
    });
  }

  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.guarded(() => {
      const conn = this.connection();
      conn.write(() => {
        const d = this.deleteRuns(conn, seqs);
        conn.add('delivered_total', d.rows);
        conn.add('queued_bytes', -d.bytes);
        conn.setLastDelivery(this.now().toISOString());
      });
    });
  }

  drop(seqs: readonly number[], reason: string): void {
    if (seqs.length === 0) return;
    this.guarded(() => {
      const conn = this.connection();
      const d = conn.write(() => {
        const d = this.deleteRuns(conn, seqs);
        conn.add('dropped_total', d.rows);
        conn.add('queued_bytes', -d.bytes);
        return d;
      });
      this.reportDrops(reason, d.rows);
    });
  }

  stats(): OutboxStats {
    return this.guarded(() => collectStats(this.connection().db, fileBytes(this.opts.path)));
  }

  /** Runs `PRAGMA integrity_check` (slow: reads everything); 'ok' or the problems found. */
  integrityCheck(): string {
    const rows = this.connection().db.pragma('integrity_check') as Array<Record<string, unknown>>;
    return rows.map((r) => String(Object.values(r)[0])).join('; ');
  }

  close(): void {
    if (this.conn === undefined) return;
    try {
      this.drops.flush(this.conn.meta().dropped_total);
    } catch {
      // closing anyway; the counter itself is in the file
    }
    this.conn.close();
    this.conn = undefined;
  }

  private appendRows(rows: readonly Row[]): number[] {
    const roundBytes = rows.reduce((n, r) => n + r.bytes, 0);
    for (let attempt = 0; ; attempt++) {
      const conn = this.connection();
      try {
        const seqs = this.commitRound(conn, rows, roundBytes);
        this.seqHigh = Math.max(this.seqHigh, seqs[seqs.length - 1] ?? 0);
        return seqs;
      } catch (e) {
        if (!isFull(e)) throw e;
        this.makeRoom(conn, e, rows.length, roundBytes, attempt);
      }
    }
  }

  /** One transaction: the round's rows, and the drops that make room for them, or nothing. */
  private commitRound(conn: OutboxConnection, rows: readonly Row[], roundBytes: number): number[] {
    const { seqs, dropped } = conn.write(() => {
      const seqs = rows.map((r) => conn.insert(r.ts, r.bytes, r.json));
      conn.add('queued_bytes', roundBytes);
      return { seqs, dropped: this.applyBounds(conn, seqs[0] ?? 0) };
    });
    this.reportBounds(dropped);
    return seqs;
  }

  /** Age first (those rows go anyway), then size; never rows from seq `keepFrom` on. Inside a transaction. */
  private applyBounds(conn: OutboxConnection, keepFrom: number): { aged: number; trimmed: number } {
    let aged = 0;
    if (this.opts.max_age_days !== undefined) {
      const cutoff = new Date(this.now().getTime() - this.opts.max_age_days * DAY_MS).toISOString();
      aged = pruneByAge(conn, cutoff, keepFrom - 1).rows;
    }
    return { aged, trimmed: trimToBudget(conn, this.budget, keepFrom).rows };
  }

  private reportBounds(d: { aged: number; trimmed: number }): void {
    this.reportDrops(`older than max_age_days ${this.opts.max_age_days}`, d.aged);
    this.reportDrops(`max_mb ${this.opts.max_mb} reached`, d.trimmed);
  }

  /**
   * SQLITE_FULL: the transaction was rolled back. Checkpoint so the WAL is reused from its
   * start (no new blocks needed), then drop the oldest rows, twice as many each attempt,
   * so their pages take the round. Throws OutboxFullError when there is nothing to drop.
   */
  private makeRoom(conn: OutboxConnection, e: unknown, results: number, roundBytes: number, attempt: number): void {
    const code = sqliteCode(e) ?? 'SQLITE_FULL';
    try {
      conn.checkpoint('RESTART');
    } catch {
      // a checkpoint that cannot extend the database file fails too; dropping still helps
    }
    let dropped = 0;
    try {
      dropped = dropForSpace(conn, Math.max(2 * roundBytes, 64 * 1024) * 2 ** attempt).rows;
    } catch (e2) {
      if (!isFull(e2)) throw e2;
    }
    if (dropped === 0) throw new OutboxFullError(this.opts.path, results, code);
    this.reportDrops('disk full', dropped);
  }

  private deleteRuns(conn: OutboxConnection, seqs: readonly number[]): Deleted {
    const total = { rows: 0, bytes: 0 };
    for (const [lo, hi] of runs(seqs)) {
      const d = conn.deleteRange(lo, hi);
      total.rows += d.rows;
      total.bytes += d.bytes;
    }
    return total;
  }

  private reportDrops(reason: string, rows: number): void {
    if (rows > 0) this.drops.report(reason, rows, this.connection().meta().dropped_total);
  }

  /** Runs op; on corruption (or the file deleted under us) recovers and runs it once more. */
  private guarded<T>(op: () => T): T {
    try {
      return op();
    } catch (e) {
      if (!isCorruption(e) && !isMoved(e)) throw e;
      this.recover(e);
      return op();
    }
  }

  private connection(): OutboxConnection {
    // After a failed recovery (e.g. the directory became read-only) every call tries again.
    this.conn ??= this.connect(this.seqHigh);
    return this.conn;
  }

  private recover(e: unknown): void {
    const corrupt = isCorruption(e);
    try {
      this.conn?.close();
    } catch {
      // the file is damaged; closing is best effort
    }
    this.conn = undefined;
    const before = this.streamId;
    if (corrupt) {
      const q = quarantine(this.opts.path, this.now());
      this.corruptTotal++;
      this.conn = this.connect(this.seqHigh);
      const pruned = q.deleted.length > 0 ? `, deleted older copies ${q.deleted.join(' ')}` : '';
      this.opts.logger.error(`${P}database ${this.opts.path} is corrupt (${errorText(e)}); moved it aside to ${q.aside}${pruned}; new stream ${this.streamId} (was ${before}), seqs continue after ${this.seqHigh}; ${this.corruptTotal} corrupt databases so far`);
    } else {
      this.conn = this.connect(this.seqHigh);
      this.opts.logger.error(`${P}database ${this.opts.path} was deleted or moved while open; new stream ${this.streamId} (was ${before}), seqs continue after ${this.seqHigh}`);
    }
  }

  /** Opens the file at the path; a corrupt one found at open is moved aside and replaced. */
  private connect(seqBase: number): OutboxConnection {
    const { path } = this.opts;
    const init = () => ({ stream: randomBytes(16).toString('hex'), created: this.now().toISOString(), seqBase, corruptTotal: this.corruptTotal });
    const settings = { synchronous: this.opts.synchronous, walBytes: this.budget.walBytes };
    let conn: OutboxConnection;
    try {
      conn = OutboxConnection.open(path, settings, init).conn;
    } catch (e) {
      if (!isCorruption(e)) throw asUnavailable(path, e);
      const q = quarantine(path, this.now());
      this.corruptTotal++;
      try {
        conn = OutboxConnection.open(path, settings, init).conn;
      } catch (e2) {
        throw asUnavailable(path, e2);
      }
      this.opts.logger.error(`${P}database ${path} is corrupt (${errorText(e)}); moved it aside to ${q.aside}; started a new stream ${conn.meta().stream}`);
    }
    const meta = conn.meta();
    this.streamId = meta.stream;
    this.corruptTotal = meta.corrupt_total;
    this.seqHigh = Math.max(this.seqHigh, conn.lastSeq());
    return conn;
  }

  /** Gives freelist pages back to the file system when the file is over its budget (max_mb was lowered). */
  private shrinkFile(): void {
    const conn = this.connection();
    const { pages, free } = conn.pages();
    const excess = pages - Math.ceil((this.budget.dataBytes + this.budget.hysteresisBytes) / conn.pageSize);
    if (excess > 0 && free > 0) {
      conn.releaseFreePages(Math.min(free, excess));
      conn.checkpoint('TRUNCATE');
    }
  }
}

function asUnavailable(path: string, e: unknown): Error {
  if (e instanceof OutboxError) return e;
  return new OutboxUnavailableError(path, `cannot open the database: ${errorText(e)}`);
}
