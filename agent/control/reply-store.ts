import { z } from 'zod';
import { commandReplySchema, type CommandReply, type Json } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import type { JsonStore } from './json-store.js';

export const REPLY_CAPACITY = 1000;
/** Rejections are written in batches: a flood of bad commands must not become a flood of disk writes. */
export const REPLY_FLUSH_DELAY_MS = 5000;

const fileSchema = z.object({ format: z.literal(1), replies: z.array(commandReplySchema) });

export interface ReplyStoreOptions {
  capacity?: number;
  flushDelayMs?: number;
  logger: Logger;
}

/**
 * The replies to the last `capacity` command ids, oldest evicted first, persisted so that a
 * command redelivered after a restart (a `restart` above all) gets its stored reply instead
 * of running again. Replies of commands that did something are written before the reply is
 * sent; rejections are batched.
 */
export class ReplyStore {
  private readonly replies = new Map<string, CommandReply>();
  private readonly capacity: number;
  private readonly flushDelayMs: number;
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;

  constructor(
    private readonly store: JsonStore,
    private readonly opts: ReplyStoreOptions,
  ) {
    this.capacity = opts.capacity ?? REPLY_CAPACITY;
    this.flushDelayMs = opts.flushDelayMs ?? REPLY_FLUSH_DELAY_MS;
    const raw = store.read();
    if (Object.keys(raw).length === 0) return;
    const parsed = fileSchema.safeParse(raw);
    if (!parsed.success) {
      opts.logger.warn(`control: ${store.path} is not a reply store (ignored; commands seen before may run again)`);
      return;
    }
    for (const r of parsed.data.replies.slice(-this.capacity)) this.replies.set(r.id, r);
  }

  get size(): number {
    return this.replies.size;
  }

  get(id: string): CommandReply | undefined {
    return this.replies.get(id);
  }

  /**
   * Remembers a reply. `durable`: written now (throws when the write fails); otherwise
   * within flushDelayMs.
   */
  record(reply: CommandReply, durable: boolean): void {
    this.replies.delete(reply.id);
    this.replies.set(reply.id, reply);
    while (this.replies.size > this.capacity) this.replies.delete(this.replies.keys().next().value!);
    this.dirty = true;
    if (durable) this.flush(true);
    else this.timer ??= setTimeout(() => this.flush(false), this.flushDelayMs).unref();
  }

  /** Writes pending replies; a failed batched write is logged and retried with the next one. */
  flush(throwOnError = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.dirty) return;
    try {
      this.store.write({ format: 1, replies: [...this.replies.values()] as unknown as Json[] });
      this.dirty = false;
    } catch (err) {
      if (throwOnError) throw err;
      this.opts.logger.warn(`control: cannot write ${this.store.path}: ${(err as Error).message}`);
    }
  }
}
