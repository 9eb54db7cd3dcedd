import type { ProbeResult } from './result.js';

/** One stored result, handed out for delivery: its seq and the record's JSON as stored. */
export interface OutboxItem {
  seq: number;
  /** The record's `ts` (round start), for age bounds and stats without parsing. */
  ts: string;
  /** The record serialized once at commit time (without seq). */
  json: string;
}

export interface OutboxStats {
  stream: string;
  rows: number;
  /** Bytes of stored records (JSON); the database file is larger by its own overhead. */
  bytes: number;
  file_bytes: number;
  oldest: string | null;
  newest: string | null;
  /** Results ever dropped unsent (bound reached, disk full), persisted across restarts. */
  dropped_total: number;
  /** Results ever appended to this stream (seqs may skip after a recovery or an unclean stop). */
  generated_total: number;
  /** Results ever acknowledged by the broker (pending acks are committed before stats are read). */
  delivered_total: number;
  last_delivery: string | null;
  /** Corrupt database files moved aside by this outbox's recovery, persisted. */
  corrupt_total: number;
}

/**
 * The only durable store. Every round's results are committed here, in one transaction,
 * before anything else sees them. Delivery follows Telegraf's buffer transactions: take
 * a batch (oldest first), publish it, then ack it (remove) or leave it for the next try;
 * drop is for what can never be delivered. No method holds a transaction open across an
 * await: all of them are synchronous.
 *
 * Acks are coalesced: one commit (an fsync with synchronous full) per message was most of a
 * drain's time. Acked results are marked delivered (their storage is freed when nothing
 * around them is queued any more), in one transaction, when enough are pending, by flush(), and before
 * the next append(), stats() and close(). A crash before that sends them again: at least
 * once, which the receiver's (device, stream, seq) dedup already absorbs.
 */
export interface Outbox {
  /**
   * Random id made when the database was created; (device, stream, seq) identifies a result.
   * It changes at runtime if a corrupt database is replaced: read it for every batch.
   */
  readonly stream: string;
  /** Commits one round's results atomically; returns their seqs (increasing forever). */
  append(results: readonly ProbeResult[]): number[];
  /** Oldest first: up to maxItems results with seq > afterSeq whose JSON totals <= maxBytes (at least one). */
  take(afterSeq: number, maxItems: number, maxBytes: number): OutboxItem[];
  /**
   * Records results as delivered (call after their PUBACK). Their removal and the delivery
   * count are committed by the next flush() (or when enough acks are pending, or before the
   * next append, stats or close), not necessarily by this call; take() flushes first when
   * asked for rows at or below a pending ack, so a rewind never hands them out again.
   */
  ack(seqs: readonly number[]): void;
  /** Commits pending acks now (removes them, counts them delivered). Throws if that fails; they stay pending. */
  flush(): void;
  /** Removes results that can never be delivered, counting them in dropped_total. */
  drop(seqs: readonly number[], reason: string): void;
  /** Commits pending acks first (if that fails, shows what is on disk), so its counts are exact. */
  stats(): OutboxStats;
  close(): void;
}

/** Whatever delivers the outbox's results (the uplink's drainer); kicked after every commit. */
export interface OutboxDrain {
  start(): void;
  kick(): void;
  stop(): Promise<void>;
}
