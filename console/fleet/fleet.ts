import type { Logger } from '../../agent/core/logger.js';
import type { Bus, BusHandlers, InboundMessage } from '../broker/bus.js';
import type { IngestOutcome, Store } from '../store/store.js';
import type { ConsoleTopics } from '../topics.js';
import { CommandSender } from './commands.js';
import { ConfigPusher } from './config-push.js';
import { toIngestItem } from './inbound.js';
import { IngestQueue } from './ingest-queue.js';
import { Registry } from './registry.js';

export interface FleetDeps {
  store: Store;
  bus: Bus;
  topics: ConsoleTopics;
  logger: Logger;
  now: () => number;
  /** The registry changed (an external Mosquitto's password and ACL files are rewritten). */
  registryChanged?: () => void;
  /** Rollups of finished buckets are computed this often. */
  rollupEveryMs?: number;
}

/**
 * The console's fleet side: what arrives from devices goes through the ingest queue into the
 * store; what goes to them (config, commands) is stored first, then published. The web
 * API and the CLI both work through this one object.
 */
export class Fleet {
  readonly registry: Registry;
  readonly configs: ConfigPusher;
  readonly commands: CommandSender;
  private readonly queue: IngestQueue;
  private rollupTimer: NodeJS.Timeout | null = null;
  private rollupRun: Promise<void> = Promise.resolve();
  private ingested = { stored: 0, duplicates: 0, rejected: 0, messages: 0 };

  constructor(private readonly deps: FleetDeps) {
    const { store, bus, topics, logger, now } = deps;
    this.registry = new Registry(store, now, () => deps.registryChanged?.());
    this.configs = new ConfigPusher({ store, bus, topics, logger, now });
    this.commands = new CommandSender({ store, bus, topics, logger, now });
    this.queue = new IngestQueue(store, (o) => this.outcome(o));
  }

  get handlers(): BusHandlers {
    return {
      message: (msg) => this.message(msg),
      presence: (device, online) => {
        this.queue.add({ kind: 'presence', device, online, source: 'broker', at: this.deps.now() }).catch((err: Error) => this.deps.logger.error(`presence of ${device} not stored: ${err.message}`));
      },
      // Embedded: the broker's retained store starts empty, so every latest config goes out
      // again; external: only those that never reached the broker.
      connected: () => void this.configs.republish(this.deps.bus.stats().mode === 'embedded').catch((err: Error) => this.deps.logger.error(`config republish failed: ${err.message}`)),
    };
  }

  start(): void {
    const every = this.deps.rollupEveryMs ?? 15_000;
    this.rollupTimer = setInterval(() => void this.refreshRollups(), every);
    this.rollupTimer.unref();
  }

  /** Computes rollups of finished buckets now (also what the timer does). */
  refreshRollups(graceMs = 10_000): Promise<void> {
    this.rollupRun = this.rollupRun.then(async () => {
      try {
        // Small slices: each bucket is its own short transaction, ingest runs in between.
        while ((await this.deps.store.refreshRollups(this.deps.now(), graceMs, 200)) === 200) await new Promise((r) => setImmediate(r));
      } catch (err) {
        this.deps.logger.error(`rollups: ${(err as Error).message}`);
      }
    });
    return this.rollupRun;
  }

  stats(): { stored: number; duplicates: number; rejected: number; messages: number } {
    return { ...this.ingested };
  }

  async stop(): Promise<void> {
    if (this.rollupTimer) clearInterval(this.rollupTimer);
    await this.queue.close();
    await this.rollupRun;
  }

  private message(msg: InboundMessage): Promise<void> {
    this.ingested.messages++;
    const item = toIngestItem(this.deps.topics, msg.topic, msg.payload, this.deps.now());
    if (!item) return Promise.resolve();
    if (item.kind === 'rejected') {
      this.ingested.rejected++;
      this.deps.logger.warn(`ingest: ${item.device}: ${item.reason}`);
    }
    const stored = this.queue.add(item);
    return item.kind === 'reply' ? stored.then(() => this.commands.replied(item.device, item.reply.id)) : stored;
  }

  private outcome(o: IngestOutcome): void {
    this.ingested.stored += o.stored;
    this.ingested.duplicates += o.duplicates;
    for (const d of o.unknown) this.deps.logger.warn(`ingest: messages from unregistered device ${d} ignored`);
    for (const d of o.cameOnline) void this.commands.resendUnanswered(d).catch((err: Error) => this.deps.logger.error(`resend to ${d}: ${err.message}`));
  }
}
