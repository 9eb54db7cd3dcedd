import { isDeepStrictEqual } from 'node:util';
import type { ClockStatus } from '../core/clock.js';
import type { CommandReply } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import { envelopeSchema, expiry, usableId } from './command-envelope.js';
import { CommandRejected, type CommandHandler, type CommandOutcome } from './commands.js';
import type { ControlState } from './control-state.js';
import type { LimitedLog } from './limited-log.js';
import type { SlidingWindowLimiter } from './rate-limiter.js';
import { formatProblem, zodProblems } from './remote-config.js';
import type { ReplyStore } from './reply-store.js';
import { safeParseJson } from './safe-json.js';

export interface CommandControllerDeps {
  handlers: ReadonlyMap<string, CommandHandler>;
  replies: ReplyStore;
  limiter: SlidingWindowLimiter;
  /** Resolves true when the broker acknowledged the reply. */
  send: (reply: CommandReply) => Promise<boolean>;
  state: ControlState;
  clock: ClockStatus;
  logger: Logger;
  refusals: LimitedLog;
  now?: () => Date;
  /** Bound on waiting for a reply's PUBACK before a command's after-step (restart). Default 5 s. */
  replyWaitMs?: number;
}

/**
 * Commands from the cloud, each answered once per id: a duplicate (redelivered, or sent
 * again) gets the stored reply and runs nothing. Expired commands and those over the rate
 * limit are rejected with the reason; a message without a usable id is logged and counted.
 */
export class CommandController {
  /** Commands still running, so that a duplicate meanwhile waits for the same reply. */
  private readonly running = new Map<string, Promise<CommandReply>>();
  private warnedClock = false;

  constructor(private readonly deps: CommandControllerDeps) {}

  async handle(payload: Buffer): Promise<void> {
    const { replies, logger } = this.deps;
    const parsed = safeParseJson(payload);
    const value = parsed.value;
    const id = usableId(value);
    if (id === null) {
      this.deps.state.countRejected();
      this.deps.refusals.warn(`control: command without a usable id dropped (it cannot be answered): ${parsed.ok ? 'id must be 1..128 printable ASCII characters' : parsed.reason}`);
      return;
    }
    const stored = replies.get(id);
    if (stored) {
      logger.debug(`control: command ${id} seen before: its reply is sent again`);
      await this.deps.send(stored);
      return;
    }
    const inFlight = this.running.get(id);
    if (inFlight) {
      await this.deps.send(await inFlight);
      return;
    }
    const run = this.run(id, parsed.ok ? null : parsed.reason, value).catch((err: unknown) => {
      logger.error(`control: command ${id} failed unexpectedly: ${(err as Error).stack ?? String(err)}`);
      return { reply: { id, status: 'error', error: 'internal error' } satisfies CommandReply, outcome: null };
    });
    this.running.set(id, run.then((r) => r.reply));
    try {
      const { reply, outcome } = await run;
      const sent = this.deps.send(reply);
      if (outcome?.after) {
        // Bounded: a broker that stopped answering must not keep a restart from happening.
        await Promise.race([sent, new Promise((r) => setTimeout(r, this.deps.replyWaitMs ?? 5000).unref())]);
        outcome.after();
      } else await sent;
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * The final reply of a command that was accepted earlier (update): stored first, so that
   * a duplicate of the command gets it, then sent.
   */
  async complete(reply: CommandReply): Promise<boolean> {
    // Sent again while the broker is away: written once, not at every attempt (SD cards).
    if (!isDeepStrictEqual(this.deps.replies.get(reply.id), reply)) this.store(reply, true);
    return this.deps.send(reply);
  }

  /** Waits (bounded) for commands still running, e.g. a probe-now, at shutdown. */
  async stop(timeoutMs = 5000): Promise<void> {
    const all = Promise.allSettled([...this.running.values()]);
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.deps.replies.flush();
  }

  private async run(id: string, parseError: string | null, value: unknown): Promise<{ reply: CommandReply; outcome: CommandOutcome | null }> {
    const reject = (why: string): { reply: CommandReply; outcome: null } => {
      const reply: CommandReply = { id, status: 'rejected', error: why };
      this.deps.state.countRejected();
      this.deps.refusals.warn(`control: command ${id} rejected: ${why}`);
      this.store(reply, false);
      return { reply, outcome: null };
    };
    if (parseError !== null) return reject(parseError);
    const env = envelopeSchema.safeParse(value);
    if (!env.success) return reject(zodProblems(env.error).map(formatProblem).join('; '));
    const { command, args = {} } = env.data;
    const now = (this.deps.now ?? (() => new Date()))();
    const expired = expiry(env.data, now);
    if (expired !== null) {
      if (this.deps.clock.synced()) return reject(expired);
      // Without NTP the clock may be years off either way: better run a stale command
      // than lock the device out of every command until it syncs.
      if (!this.warnedClock) this.deps.logger.warn('control: the clock is not synchronized: command expiry is not enforced until it is');
      this.warnedClock = true;
    }
    const handler = this.deps.handlers.get(command);
    if (!handler) return reject(`unknown command "${command}"`);
    let execute: () => Promise<CommandOutcome>;
    try {
      execute = handler(args, id);
    } catch (err) {
      if (err instanceof CommandRejected) return reject(err.message);
      throw err;
    }
    if (!this.deps.limiter.tryTake()) {
      return reject(`rate limit: at most ${this.deps.limiter.max} commands per ${Math.round(this.deps.limiter.windowMs / 1000)} s (next slot in ${Math.ceil(this.deps.limiter.retryAfterMs() / 1000)} s)`);
    }
    let outcome: CommandOutcome;
    try {
      outcome = await execute();
    } catch (err) {
      const reply: CommandReply = { id, status: 'error', error: (err as Error).message };
      this.deps.logger.warn(`control: command ${id} (${command}) failed: ${reply.error}`);
      this.store(reply, true);
      return { reply, outcome: null };
    }
    this.deps.logger.info(`control: command ${id} (${command}) ${outcome.status ?? 'done'}`);
    const status = outcome.status ?? 'ok';
    const reply: CommandReply = outcome.result === undefined ? { id, status } : { id, status, result: outcome.result };
    this.store(reply, true);
    return { reply, outcome };
  }

  /** A reply that cannot be persisted is still sent; a restart may then repeat (logged). */
  private store(reply: CommandReply, durable: boolean): void {
    try {
      this.deps.replies.record(reply, durable);
    } catch (err) {
      this.deps.logger.error(`control: reply to ${reply.id} not persisted (${(err as Error).message}): a redelivery would run it again`);
      this.deps.state.noteError(`reply store: ${(err as Error).message}`);
    }
  }
}
