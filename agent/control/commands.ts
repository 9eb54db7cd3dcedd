import { z } from 'zod';
import type { Json } from '../core/control.js';
import type { Outbox, OutboxDrain, OutboxStats } from '../core/outbox.js';
import type { ControlState } from './control-state.js';
import { formatProblem, zodProblems } from './remote-config.js';

/** systemd restarts the unit on this status (EX_TEMPFAIL); 78 (EX_CONFIG) must not restart it. */
export const RESTART_EXIT_CODE = 75;

/** Refused before anything was done: the reply says "rejected". Any other throw is "error". */
export class CommandRejected extends Error {
  override readonly name = 'CommandRejected';
}

export interface CommandOutcome {
  result?: Json;
  /** 'accepted': the command goes on after this reply, and its final reply comes later (update). */
  status?: 'accepted';
  /** Runs after the reply has been published (or given up on): for restart. */
  after?: () => void;
}

/**
 * Checks a command's args (throwing CommandRejected, synchronously) and returns the step
 * that runs it: only a command that would run takes a slot of the rate limit.
 */
export type CommandHandler = (args: Record<string, unknown>, id: string) => () => Promise<CommandOutcome>;

export interface CommandDeps {
  state: ControlState;
  /** AgentService.probeNow: rounds committed to the outbox, then the drainer kicked. */
  probeNow: (names?: readonly string[]) => Promise<number[]>;
  outbox: Pick<Outbox, 'stats'>;
  drain: OutboxDrain | null;
  requestRestart: () => void;
  /** Milliseconds the agent has been running, and how long it must have run before a restart. */
  uptimeMs: () => number;
  restartMinUptimeMs: number;
  /** How long `drain` waits for the outbox to empty before it replies. Default 10 s. */
  drainWaitMs?: number;
  /** The update command (agent/control/update-control.ts). */
  update?: CommandHandler;
}

const noArgs = z.strictObject({});
const probeNowArgs = z.strictObject({ names: z.array(z.string().min(1).max(128)).min(1).max(10_000).optional() });

export function parseArgs<T>(schema: z.ZodType<T>, args: Record<string, unknown>): T {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  throw new CommandRejected(`invalid args: ${zodProblems(r.error).map((p) => formatProblem({ ...p, path: p.path ? `args.${p.path}` : 'args' })).join('; ')}`);
}

/** The commands this agent knows, by name. */
export function commandHandlers(deps: CommandDeps): Map<string, CommandHandler> {
  const monitoring = (enabled: boolean): CommandHandler => (args, id) => {
    parseArgs(noArgs, args);
    return async () => ({ result: { monitoring_enabled: enabled, changed: deps.state.setMonitoring(enabled, id) } });
  };
  return new Map<string, CommandHandler>([
    ['start', monitoring(true)],
    ['stop', monitoring(false)],
    ['probe-now', (args) => {
      const { names } = parseArgs(probeNowArgs, args);
      const known = new Set(deps.state.ops.probes.map((p) => p.name));
      const unknown = (names ?? []).filter((n) => !known.has(n));
      if (unknown.length > 0) throw new CommandRejected(`unknown probe(s): ${unknown.slice(0, 10).join(', ')}${unknown.length > 10 ? ', ...' : ''}`);
      const wanted = names ? [...new Set(names)] : [...known];
      return async () => {
        const seqs = await deps.probeNow(names ? wanted : undefined);
        if (seqs.length < wanted.length) throw new Error(`only ${seqs.length} of ${wanted.length} result(s) were stored (see the agent's log)`);
        return { result: { probes: wanted.length, results: seqs.length, first_seq: seqs.length ? Math.min(...seqs) : null, last_seq: seqs.length ? Math.max(...seqs) : null } };
      };
    }],
    ['drain', (args) => {
      parseArgs(noArgs, args);
      const drain = deps.drain;
      if (drain === null) throw new CommandRejected('no uplink is configured');
      return () => drainNow(deps.outbox, drain, deps.drainWaitMs ?? 10_000);
    }],
    ['restart', (args) => {
      parseArgs(noArgs, args);
      const up = deps.uptimeMs();
      if (up < deps.restartMinUptimeMs) {
        throw new CommandRejected(`the agent started ${Math.floor(up / 1000)} s ago; restarts are refused for the first ${Math.round(deps.restartMinUptimeMs / 1000)} s (safety.restart_min_uptime_s)`);
      }
      // The reply is stored (durably) before `after` runs: a redelivered restart finds it
      // and does not restart again.
      return async () => ({ result: { exit_code: RESTART_EXIT_CODE }, after: deps.requestRestart });
    }],
    ...(deps.update ? [['update', deps.update] as const] : []),
  ]);
}

/**
 * Kicks the drainer and waits (bounded) until everything buffered when the command came has
 * been delivered or dropped; rounds committed meanwhile do not keep the reply waiting.
 */
async function drainNow(outbox: Pick<Outbox, 'stats'>, drain: OutboxDrain, waitMs: number): Promise<CommandOutcome> {
  const before = outbox.stats();
  const flushed = (s: OutboxStats): boolean => s.delivered_total + s.dropped_total >= before.generated_total;
  drain.kick();
  const deadline = performance.now() + waitMs;
  let now = before;
  while (!flushed(now) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    now = outbox.stats();
  }
  return { result: { rows_before: before.rows, delivered: now.delivered_total - before.delivered_total, rows_after: now.rows, complete: flushed(now) } };
}
