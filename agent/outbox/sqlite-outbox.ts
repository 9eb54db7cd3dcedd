import { dirname } from 'node:path';
import type { Outbox, OutboxItem, OutboxStats } from '../core/outbox.js';
import type { ProbeResult } from '../core/result.js';
import { budgetFor, pruneByAge, trimToBudget, type Budget } from './budget.js';
import type { OutboxConnection } from './connection.js';
import { deleteSeqs } from './deletes.js';
import { PendingAcks, takeRows } from './delivery.js';
import { keepRoom, makeRoom, planSpace, releasePages, reserveFor, statfsFreeSpace, type FreeSpace, type SpacePlan } from './disk-space.js';
import { DropReporter } from './drop-reporter.js';
import { FileMovedError, isCorruption, isFull, isMoved, OutboxFullError, sqliteCode } from './errors.js';
import type { OutboxOptions } from './options.js';
import { preflight } from './preflight.js';
import { connect, reconnect, type ConnectParams } from './recovery.js';
import { collectStats, fileBytes } from './stats.js';

export type { OutboxOptions } from './options.js';

interface Row {
  ts: string;
  bytes: number;
  json: string;
}

interface Dropped {
  aged: number;
  trimmed: number;
}

const DAY_MS = 86_400_000;
/** Attempts to free space for one round after SQLITE_FULL (each frees twice the last). */
const MAX_FULL_ATTEMPTS = 8;
/**
 * With synchronous normal the newest commits can be lost on power loss, and with them the
 * seq counter: seqs already handed out (and maybe delivered) would be given to other
 * results. So seqs are reserved in blocks by a commit that is synced (FULL for that one
 * transaction), and after an unclean stop the counter resumes above the reservation.
 */
const SEQ_BLOCK = 10_000;
const P = 'outbox: ';

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
 * synchronous and runs a few short transactions at most; corruption found while running is
 * recovered from in place (new file, new stream, seqs continue) and the call run once more.
 */
export class SqliteOutbox implements Outbox {
  private conn: OutboxConnection | undefined;
  private streamId = '';
  /** Highest seq handed out (or in the file): a database recreated while running continues after it. */
  private seqHigh = 0;
  private seqReserved = 0;
  /** After an unclean stop: the first append first moves the seq counter up to here. */
  private raiseTo = 0;
  private corruptTotal = 0;
  private closed = false;
  private readonly budget: Budget;
  private readonly now: () => Date;
  private readonly drops: DropReporter;
  private readonly freeSpace: FreeSpace;
  private readonly acks = new PendingAcks();
  /** Average JSON bytes of the rows last read: sizes take()'s reads and the ack queue. */
  private readonly rowBytes = { value: 512 };

  constructor(private readonly opts: OutboxOptions) {
    this.now = opts.now ?? (() => new Date());
    this.budget = budgetFor(opts.max_mb);
    this.drops = new DropReporter(opts.logger, this.now, P);
    this.freeSpace = opts.freeSpace ?? statfsFreeSpace;
    this.conn = this.adopt(connect(this.connectParams()));
    try {
      this.boundAtOpen(this.conn);
    } catch (e) {
      this.conn.close();
      throw e;
    }
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
    return this.guarded(() => {
      // Before the round: its bounds must not drop (and count as dropped) delivered rows.
      this.flushBeforeAppend();
      return this.appendRows(rows);
    });
  }

  take(afterSeq: number, maxItems: number, maxBytes: number): OutboxItem[] {
    if (maxItems < 1) return [];
    // A rewind (afterSeq below a pending ack) must not hand out rows already delivered.
    if (this.acks.rows > 0 && afterSeq < this.acks.maxSeq) this.flush();
    return this.guarded(() => takeRows(this.connection(), afterSeq, maxItems, maxBytes, this.rowBytes, this.acks.handed));
  }

  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    if (this.closed) throw new Error(`outbox ${this.opts.path}: used after close()`);
    this.acks.add(seqs, this.now().toISOString());
    if (this.acks.due()) this.flush();
  }

  flush(): void {
    if (this.acks.rows > 0) this.guarded(() => this.acks.commit(this.connection(), this.opts.path));
  }

  drop(seqs: readonly number[], reason: string): void {
    if (seqs.length === 0) return;
    this.guarded(() => this.reportDrops(reason, deleteSeqs(this.connection(), { seqs, counter: 'dropped_total', path: this.opts.path }).rows));
  }

  stats(): OutboxStats {
    try {
      this.flush();
    } catch {
      // Reading must not fail because a write did (the drainer's flush reports it): the
      // stats then show what is on disk, pending acks as still queued.
    }
    return this.guarded(() => {
      const conn = this.connection();
      return collectStats(conn.db, conn.store, fileBytes(this.opts.path));
    });
  }

  /** `PRAGMA integrity_check` (slow: reads every page): 'ok' or the problems found. */
  integrityCheck(): string {
    const rows = this.connection().db.pragma('integrity_check') as Array<Record<string, unknown>>;
    return rows.map((r) => String(Object.values(r)[0])).join('; ');
  }

  close(): void {
    this.closed = true;
    const conn = this.conn;
    if (conn === undefined) return;
    this.conn = undefined;
    try {
      this.acks.commit(conn, this.opts.path);
    } catch (e) {
      this.opts.logger.warn(`${P}${this.acks.rows} delivered results could not be deleted at close (${(e as Error).message}); they will be sent again`);
    }
    try {
      this.drops.flush(conn.meta().dropped_total);
      // A clean stop hands nothing out beyond the last seq: the next start needs no skip.
      if (this.seqReserved > this.seqHigh) this.reserveSeqs(conn, this.seqHigh, () => undefined);
    } catch {
      // closing anyway: the reservation only means a gap in seqs at the next start
    }
    conn.close();
  }

  /** The round matters more than the acks: if they cannot be committed now they stay pending. */
  private flushBeforeAppend(): void {
    try {
      this.acks.commit(this.connection(), this.opts.path);
    } catch (e) {
      if (isCorruption(e) || isMoved(e)) throw e;
    }
  }

  private appendRows(rows: readonly Row[]): number[] {
    const roundBytes = rows.reduce((n, r) => n + r.bytes, 0);
    for (let attempt = 0; ; attempt++) {
      const conn = this.connection();
      try {
        return this.commitRound(conn, rows, roundBytes);
      } catch (e) {
        if (!isFull(e)) throw e;
        // Each attempt frees twice as much as the last; gives up when nothing could be freed.
        const room = makeRoom(conn, reserveFor(roundBytes) * 2 ** attempt);
        this.reportDrops('disk full', room.dropped);
        if ((room.dropped === 0 && room.released === 0) || attempt >= MAX_FULL_ATTEMPTS) {
          const why = conn.meta().queued_bytes === 0 ? 'no older results left to drop' : `${room.dropped} older results dropped, but no more space could be freed`;
          throw new OutboxFullError(this.opts.path, sqliteCode(e) ?? 'SQLITE_FULL', `${rows.length} results of this round not stored (${why})`, rows.length);
        }
      }
    }
  }

  /** One transaction: the round's rows and the drops that make room for them, or nothing. */
  private commitRound(conn: OutboxConnection, rows: readonly Row[], roundBytes: number): number[] {
    const available = this.freeSpace(dirname(this.opts.path));
    let plan: SpacePlan | undefined;
    let dropped: Dropped = { aged: 0, trimmed: 0 };
    const body = (): number[] => {
      if (this.raiseTo > 0) conn.store.raiseSeq(this.raiseTo);
      plan = planSpace(this.budget, conn.pages().pages * conn.pageSize, available, roundBytes);
      const seqs = conn.store.insert(rows, this.budget.segmentBytes);
      conn.add('generated_total', rows.length);
      conn.add('queued_bytes', roundBytes);
      dropped = this.applyBounds(conn, seqs[0] ?? 0, plan);
      return seqs;
    };
    const last = this.seqHigh + rows.length;
    const seqs = this.opts.synchronous === 'normal' && last > this.seqReserved ? this.reserveSeqs(conn, last + SEQ_BLOCK, body) : conn.write(body);
    this.seqHigh = Math.max(this.seqHigh, seqs[seqs.length - 1] ?? 0);
    this.raiseTo = 0;
    this.reportBounds(dropped, plan);
    if (plan?.low === true) keepRoom(conn, plan);
    return seqs;
  }

  /** Runs body in a transaction that also records `upTo` as reserved, synced to disk (FULL). */
  private reserveSeqs<T>(conn: OutboxConnection, upTo: number, body: () => T): T {
    conn.setSynchronous('full');
    try {
      const out = conn.write(() => {
        conn.setSeqReserved(upTo);
        return body();
      });
      this.seqReserved = upTo;
      return out;
    } finally {
      conn.setSynchronous(this.opts.synchronous);
    }
  }

  /** Age first (those rows go anyway), then size; never rows from seq `keepFrom` on. Inside a transaction. */
  private applyBounds(conn: OutboxConnection, keepFrom: number, plan: Pick<SpacePlan, 'limitBytes' | 'hysteresisBytes'>): Dropped {
    let aged = 0;
    if (this.opts.max_age_days !== undefined) {
      const cutoff = new Date(this.now().getTime() - this.opts.max_age_days * DAY_MS).toISOString();
      aged = pruneByAge(conn, cutoff, keepFrom - 1).rows;
    }
    return { aged, trimmed: trimToBudget(conn, plan.limitBytes, plan.hysteresisBytes, keepFrom).rows };
  }

  private reportBounds(d: Dropped, plan?: SpacePlan): void {
    this.reportDrops(`older than max_age_days ${this.opts.max_age_days}`, d.aged);
    const lowDisk = plan !== undefined && plan.limitBytes < this.budget.dataBytes;
    this.reportDrops(lowDisk ? 'file system almost full' : `max_mb ${this.opts.max_mb} reached`, d.trimmed);
  }

  private reportDrops(reason: string, rows: number): void {
    if (rows > 0) this.drops.report(reason, rows, this.connection().meta().dropped_total);
  }

  /** Runs op; on corruption (or the file deleted under us) recovers and runs it once more. */
  private guarded<T>(op: () => T): T {
    try {
      // One stat per call: SQLite in WAL mode would write on into an unlinked file, lost at restart.
      if (this.conn !== undefined && !this.conn.stillAtPath()) throw new FileMovedError('the file at the path is not the one open');
      return op();
    } catch (e) {
      if (!isCorruption(e) && !isMoved(e)) throw e;
      try {
        this.conn?.close();
      } catch {
        // the file is damaged; closing is best effort
      }
      this.conn = undefined;
      this.conn = this.adopt(reconnect(this.connectParams(), e, isCorruption(e)));
      return op();
    }
  }

  private connection(): OutboxConnection {
    if (this.closed) throw new Error(`outbox ${this.opts.path}: used after close()`);
    // After a failed recovery (e.g. the directory became read-only) every call tries again.
    this.conn ??= this.adopt(connect(this.connectParams()));
    return this.conn;
  }

  private connectParams(): ConnectParams {
    const { path, synchronous, logger } = this.opts;
    return { path, settings: { synchronous, walBytes: this.budget.walBytes }, logger, now: this.now, seqBase: this.seqHigh, corruptTotal: this.corruptTotal };
  }

  /**
   * Takes over a freshly opened database. After an unclean stop, seqs resume above what may
   * have been handed out (the raise is written by the first append: nothing to write at
   * open, which must also work on a full disk).
   */
  private adopt(conn: OutboxConnection): OutboxConnection {
    const meta = conn.meta();
    const last = conn.lastSeq();
    this.raiseTo = meta.seq_reserved > last ? meta.seq_reserved : 0;
    this.streamId = meta.stream;
    this.corruptTotal = meta.corrupt_total;
    this.seqReserved = meta.seq_reserved;
    this.seqHigh = Math.max(this.seqHigh, last, meta.seq_reserved);
    // Pending acks were for rows of the file just replaced: gone with it.
    this.acks.reset();
    return conn;
  }

  /**
   * max_mb or max_age_days may have been lowered since the last run: drop what is over, and
   * give the freed pages back to the file system. On a full disk this waits for the next append.
   */
  private boundAtOpen(conn: OutboxConnection): void {
    try {
      this.reportBounds(conn.write(() => this.applyBounds(conn, Number.MAX_SAFE_INTEGER, { limitBytes: this.budget.dataBytes, hysteresisBytes: this.budget.hysteresisBytes })));
      const excess = conn.pages().pages - Math.ceil((this.budget.dataBytes + this.budget.hysteresisBytes) / conn.pageSize);
      if (excess > 0 && releasePages(conn, excess) > 0) conn.checkpoint('TRUNCATE');
    } catch (e) {
      if (!isFull(e)) throw e;
    }
  }
}
