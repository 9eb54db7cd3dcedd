import type { Logger } from '../core/logger.js';
import type { Outbox, OutboxDrain } from '../core/outbox.js';
import type { Transport } from '../core/uplink.js';
import { Backoff } from './backoff.js';
import { BatchBuilder, type Batch } from './batch.js';

export interface DrainerOptions {
  outbox: Outbox;
  transport: Transport;
  deviceId: string;
  /** Results per telemetry message (the message also stays under transport.maxEventBytes). */
  batchMax: number;
  /** Messages published and not yet acknowledged. */
  inflightMax: number;
  logger: Logger;
  /** Events subfolder (IoT Core routes subfolders to separate topics); none by default. */
  subfolder?: string;
  /** Bound on stop() waiting for acks. Default 10 s. */
  stopTimeoutMs?: number;
  /**
   * Acks are committed together (Outbox.ack): at the latest this long after a PUBACK, at
   * once when nothing is left to send, and at stop. Default 50 ms.
   */
  ackDelayMs?: number;
  /** Pause after a publish failed while still connected (1 s .. 1 min by default). */
  retryMinMs?: number;
  retryMaxMs?: number;
  random?: () => number;
}

export interface DrainerStats {
  /** Telemetry messages acknowledged by the broker, and the results they carried. */
  messages_published: number;
  results_published: number;
  /** Results dropped because one alone exceeds the message size limit. */
  results_dropped: number;
  publish_failures: number;
  inflight: number;
  last_error: string | null;
  last_error_at: string | null;
}

/**
 * Moves results from the outbox to the broker: oldest first, in messages of up to batchMax
 * results, with up to inflightMax messages awaiting PUBACK. A row is deleted only after the
 * PUBACK for the message carrying it arrives (acks may come in any order); the deletes of
 * several PUBACKs are committed together, within ackDelayMs. When a publish fails, sending
 * pauses until everything in flight has settled, then restarts from the oldest row still
 * stored: at-least-once, the receiver dedups by (device, stream, seq).
 */
export class Drainer implements OutboxDrain {
  private readonly builder: BatchBuilder;
  private readonly retry: Backoff;
  private readonly counters: Omit<DrainerStats, 'inflight'> = {
    messages_published: 0, results_published: 0, results_dropped: 0, publish_failures: 0, last_error: null, last_error_at: null,
  };
  /** Highest seq handed to the transport; the next batch starts after it. */
  private cursor = 0;
  private inflight = 0;
  private running = false;
  private pumping = false;
  /** A publish failed: finish what is in flight, then rewind the cursor. */
  private rewind = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  /** The last take() found nothing left to send. */
  private drained = false;
  private idleWaiters: (() => void)[] = [];
  private readonly onConnected = (): void => this.pump();

  constructor(private readonly opts: DrainerOptions) {
    if (!(opts.batchMax >= 1) || !(opts.inflightMax >= 1)) throw new RangeError('batchMax and inflightMax must be >= 1');
    this.builder = new BatchBuilder(opts.deviceId);
    this.retry = new Backoff({ minMs: opts.retryMinMs ?? 1000, maxMs: opts.retryMaxMs ?? 60_000, random: opts.random ?? Math.random });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.opts.transport.on('connected', this.onConnected);
    this.pump();
  }

  /** New results were appended. */
  kick(): void {
    this.pump();
  }

  /** Sends nothing new; waits (bounded) for the PUBACKs of what is in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.opts.transport.off('connected', this.onConnected);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, this.opts.stopTimeoutMs ?? 10_000);
      });
      clearTimeout(timer);
      if (this.inflight > 0) this.opts.logger.warn(`uplink: stopped with ${this.inflight} message(s) unacknowledged; their results stay in the outbox`);
    }
    try {
      this.flushAcks();
    } catch (err) {
      this.opts.logger.warn(`uplink: delivered results could not be deleted from the outbox (${err instanceof Error ? err.message : String(err)}); they will be sent again`);
    }
  }

  stats(): DrainerStats {
    return { ...this.counters, inflight: this.inflight };
  }

  private pump(): void {
    if (!this.running || this.pumping || this.rewind || this.retryTimer) return;
    const { outbox, transport, batchMax, inflightMax } = this.opts;
    this.pumping = true;
    try {
      while (this.running && transport.connected && this.inflight < inflightMax) {
        const maxBytes = transport.maxEventBytes;
        const stream = outbox.stream;
        const items = outbox.take(this.cursor, batchMax, this.builder.budget(stream, maxBytes));
        if (items.length === 0) {
          // Nothing left to send: commit the acks now rather than after the delay.
          this.drained = true;
          this.flushAcks();
          break;
        }
        this.drained = false;
        const built = this.builder.build(stream, items, maxBytes);
        if (built.kind === 'oversize') {
          outbox.drop([built.item.seq], 'larger than the message size limit');
          this.counters.results_dropped++;
          this.opts.logger.warn(`uplink: result seq ${built.item.seq} dropped: ${built.bytes} bytes alone exceed the ${maxBytes}-byte message limit`);
          continue;
        }
        this.cursor = built.batch.seqs[built.batch.seqs.length - 1]!;
        this.send(built.batch);
      }
    } catch (err) {
      // The outbox failed (disk, corruption); it logs its own details. Try again later.
      this.failed(err);
      if (this.inflight === 0) this.settled();
    } finally {
      this.pumping = false;
    }
  }

  private send(batch: Batch): void {
    this.inflight++;
    this.opts.transport.publishEvent(batch.payload, this.opts.subfolder).then(
      () => {
        this.inflight--;
        // Refill the window first: committing acks can wait on the disk (with synchronous
        // full an fsync of about as many bytes as the rows held), and the broker should have
        // the next messages meanwhile.
        this.settled();
        this.acked(batch);
      },
      (err: unknown) => {
        this.inflight--;
        this.counters.publish_failures++;
        this.failed(err);
        this.settled();
      },
    );
  }

  private acked(batch: Batch): void {
    try {
      this.opts.outbox.ack(batch.seqs);
      this.counters.messages_published++;
      this.counters.results_published += batch.seqs.length;
      this.retry.reset();
      // Nothing left to send, or stopped: nothing else comes soon to commit it with.
      if (this.drained || !this.running) this.flushAcks();
      else this.flushTimer ??= setTimeout(() => this.flushLater(), this.opts.ackDelayMs ?? 50);
    } catch (err) {
      // Still stored: resend after the rewind; the receiver drops the duplicates.
      this.failed(err);
      if (this.inflight === 0) this.settled();
    }
  }

  private flushAcks(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.opts.outbox.flush();
  }

  private flushLater(): void {
    this.flushTimer = null;
    try {
      this.opts.outbox.flush();
    } catch (err) {
      // Still stored: resend after the rewind (the outbox flushes again before that).
      this.failed(err);
      if (this.inflight === 0) this.settled();
    }
  }

  private failed(err: unknown): void {
    this.rewind = true;
    this.counters.last_error = err instanceof Error ? err.message : String(err);
    this.counters.last_error_at = new Date().toISOString();
  }

  private settled(): void {
    if (this.inflight > 0) {
      if (!this.rewind) this.pump();
      return;
    }
    for (const wake of this.idleWaiters.splice(0)) wake();
    if (this.rewind) {
      this.rewind = false;
      try {
        this.flushAcks();
      } catch (err) {
        // take() flushes again before handing out anything at or below a pending ack.
        this.failed(err);
        this.rewind = false;
      }
      // Everything unacknowledged is still in the outbox, and acked rows are gone, so the
      // oldest unacknowledged row is simply the first one after seq 0.
      this.cursor = 0;
      // Disconnected: the 'connected' event resumes. Still connected: the broker refused
      // something, so do not hammer it.
      if (this.opts.transport.connected) this.scheduleRetry();
      return;
    }
    this.pump();
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer) return;
    const delay = this.retry.next();
    this.opts.logger.warn(`uplink: delivery paused ${(delay / 1000).toFixed(1)} s after: ${this.counters.last_error}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, delay);
  }
}
