import type { Outbox, OutboxItem, OutboxStats } from '../core/outbox.js';
import type { ProbeResult } from '../core/result.js';

/** What became of the rounds handed to the outbox, in monotonic milliseconds. */
export interface AppendRecord {
  /** Last append, stored or not: a round completed (the probe loop ticks). */
  lastAttempt: number | null;
  lastSuccess: number | null;
  /** Appends that failed in a row since the last one that succeeded. */
  failureStreak: number;
}

/**
 * The outbox as the probe loop sees it, recording every append's outcome for the health
 * check. A decorator rather than a hook in AgentService: the health check then depends on
 * nothing but the Outbox interface, and sees failures AgentService only logs.
 */
export class WatchedOutbox implements Outbox {
  private readonly record: AppendRecord = { lastAttempt: null, lastSuccess: null, failureStreak: 0 };

  constructor(
    private readonly inner: Outbox,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get appends(): Readonly<AppendRecord> {
    return this.record;
  }

  get stream(): string {
    return this.inner.stream;
  }

  append(results: readonly ProbeResult[]): number[] {
    const at = this.now();
    this.record.lastAttempt = at;
    try {
      const seqs = this.inner.append(results);
      this.record.lastSuccess = at;
      this.record.failureStreak = 0;
      return seqs;
    } catch (err) {
      this.record.failureStreak++;
      throw err;
    }
  }

  take(afterSeq: number, maxItems: number, maxBytes: number): OutboxItem[] {
    return this.inner.take(afterSeq, maxItems, maxBytes);
  }

  ack(seqs: readonly number[]): void {
    this.inner.ack(seqs);
  }

  flush(): void {
    this.inner.flush();
  }

  drop(seqs: readonly number[], reason: string): void {
    this.inner.drop(seqs, reason);
  }

  stats(): OutboxStats {
    return this.inner.stats();
  }

  close(): void {
    this.inner.close();
  }
}
