import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { jsonSchema, type Json } from '../../agent/core/control.js';
import type { Logger } from '../../agent/core/logger.js';
import type { Bus } from '../broker/bus.js';
import type { CommandRecord, CommandStatus, Store } from '../store/store.js';
import type { ConsoleTopics } from '../topics.js';

// Commands: stored first, then published (QoS 1, not retained). A command a device has not
// answered is sent again when the device comes back online; the agent answers an id once
// and replays the stored reply for a repeat, so resending is safe.

export const COMMANDS = ['start', 'stop', 'probe-now', 'drain', 'restart', 'update'] as const;

export const commandRequestSchema = z.strictObject({
  command: z.enum(COMMANDS),
  args: z.record(z.string(), jsonSchema).optional(),
  /** Seconds until the agent must no longer run it. */
  expires_in_s: z.number().int().min(5).max(7 * 86_400).default(600),
});

export type CommandRequest = z.input<typeof commandRequestSchema>;

export interface CommandView {
  id: string;
  command: string;
  args: Record<string, Json> | null;
  status: CommandStatus;
  created_at: string;
  expires_at: string;
  sent_at: string | null;
  send_count: number;
  reply: CommandRecord['reply'];
  replied_at: string | null;
}

export function commandView(c: CommandRecord, now: number): CommandView {
  const status: CommandStatus = c.reply ? c.reply.status : c.expiresAt <= now ? 'expired' : c.sentAt === null ? 'pending' : 'sent';
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  return {
    id: c.id, command: c.command, args: c.args, status, created_at: iso(c.createdAt)!, expires_at: iso(c.expiresAt)!,
    sent_at: iso(c.sentAt), send_count: c.sendCount, reply: c.reply, replied_at: iso(c.repliedAt),
  };
}

export class CommandSender {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly deps: {
      store: Pick<Store, 'addCommand' | 'markCommandSent' | 'command' | 'unansweredCommands'>;
      bus: Pick<Bus, 'publish'>;
      topics: ConsoleTopics;
      logger: Logger;
      now: () => number;
    },
  ) {}

  async send(device: string, input: unknown): Promise<CommandRecord> {
    const req = commandRequestSchema.parse(input);
    const now = this.deps.now();
    const rec: CommandRecord = {
      device, id: randomUUID(), command: req.command, args: req.args ?? null, createdAt: now, expiresAt: now + req.expires_in_s * 1000,
      sentAt: null, sendCount: 0, reply: null, repliedAt: null,
    };
    await this.deps.store.addCommand(rec);
    await this.publish(rec);
    return (await this.deps.store.command(device, rec.id))!;
  }

  /** Resolves with the command once it has a reply, or as it is when `timeoutMs` passes. */
  async wait(device: string, id: string, timeoutMs: number): Promise<CommandRecord | null> {
    const key = `${device}\u0000${id}`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.deps.store.command(device, id);
      const left = deadline - Date.now();
      if (!c || c.reply || left <= 0) return c;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(key) ?? new Set();
        this.waiters.set(key, set);
        const done = (): void => {
          clearTimeout(t);
          set.delete(done);
          if (set.size === 0) this.waiters.delete(key);
          resolve();
        };
        const t = setTimeout(done, left);
        set.add(done);
      });
    }
  }

  /** A reply was stored. */
  replied(device: string, id: string): void {
    for (const w of [...(this.waiters.get(`${device}\u0000${id}`) ?? [])]) w();
  }

  async resendUnanswered(device: string): Promise<void> {
    for (const c of await this.deps.store.unansweredCommands(device, this.deps.now())) await this.publish(c);
  }

  private async publish(c: CommandRecord): Promise<void> {
    const envelope = { id: c.id, command: c.command, ...(c.args ? { args: c.args } : {}), expires_at: new Date(c.expiresAt).toISOString() };
    try {
      await this.deps.bus.publish(this.deps.topics.commandTopic(c.device), Buffer.from(JSON.stringify(envelope)), { retain: false });
      await this.deps.store.markCommandSent(c.device, c.id, this.deps.now());
    } catch (err) {
      this.deps.logger.warn(`command ${c.command} ${c.id} for ${c.device} not sent yet: ${(err as Error).message}`);
    }
  }
}
