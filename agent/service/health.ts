import { isIP } from 'node:net';
import cronParser from 'cron-parser';
import type { OperationalConfig, ProbeConfig } from '../config/schema.js';
import type { AppendRecord } from './outbox-watch.js';

/**
 * Whether the agent is doing its job, which is what the systemd watchdog pings vouch for.
 * Healthy means both:
 *
 * 1. The probe loop ticks. With monitoring enabled and at least one probe, a round must
 *    complete (reach the outbox, stored or not) within the stall limit of the last one, or
 *    of the moment the current schedule was first seen. One probe's rounds complete at most
 *    P + D apart: P its period (its interval, or the longest gap among the next 8 runs of
 *    its cron schedule), D its round's duration ((count - 1) x interval_ms + timeout_ms,
 *    plus 30 s of DNS for a host name). Any probe's round counts, so the fastest probe sets
 *    W = min(P + D). The limit is 2W + 10 s: slack for a busy event loop or a slow SD card,
 *    so that a Pi is not restarted for being slow. With monitoring disabled or no probes
 *    there is nothing to wait for.
 * 2. The outbox is writable: fewer than `maxFailureStreak` (2) appends failed in a row.
 *    One failure can be passing (that round is lost and logged); two in a row mean that
 *    rounds are being lost, and a restart reopens (or quarantines) the database.
 *
 * A hung event loop needs no rule here: it cannot run the check that would send the ping.
 */
export interface Health {
  healthy: boolean;
  /** Why not, for a person (null when healthy). */
  reason: string | null;
}

export interface HealthInputs {
  /** The schedule the probe loop runs now (AgentService.operational); null before it starts. */
  operational(): OperationalConfig | null;
  appends(): Readonly<AppendRecord>;
  /** Monotonic milliseconds (performance.now()), the clock of AppendRecord. */
  now(): number;
  /** Wall clock, for cron schedules. */
  wallNow?(): Date;
}

export interface HealthOptions {
  maxFailureStreak?: number;
  slackMs?: number;
  /** Allowance for resolving a host name (glibc: 5 s x 2 attempts x 3 servers). */
  resolveMs?: number;
}

// cron-parser needs 20-80 ms (x86) for 8 runs of one expression, ten times that on a Pi:
// few samples, each distinct expression once, and at most CRON_EXPRESSIONS of them (ignoring
// the rest can only make the limit longer, never cause a restart).
const CRON_SAMPLES = 8;
const CRON_EXPRESSIONS = 16;

export class HealthMonitor {
  private ops: OperationalConfig | null = null;
  private since: number;
  private limit: number | null = null;
  private readonly maxFailureStreak: number;
  private readonly slackMs: number;
  private readonly resolveMs: number;

  constructor(
    private readonly inputs: HealthInputs,
    opts: HealthOptions = {},
  ) {
    this.since = inputs.now();
    this.maxFailureStreak = opts.maxFailureStreak ?? 2;
    this.slackMs = opts.slackMs ?? 10_000;
    this.resolveMs = opts.resolveMs ?? 30_000;
  }

  check(): Health {
    const now = this.inputs.now();
    const ops = this.inputs.operational();
    if (ops !== this.ops) {
      // A new schedule restarts the grid: its first rounds get the full limit.
      this.ops = ops;
      this.since = now;
      this.limit = ops === null ? null : this.stallLimitMs(ops);
    }
    const appends = this.inputs.appends();
    if (appends.failureStreak >= this.maxFailureStreak) {
      return { healthy: false, reason: `outbox not writable: the last ${appends.failureStreak} rounds could not be stored` };
    }
    if (this.limit !== null) {
      const ref = Math.max(this.since, appends.lastAttempt ?? -Infinity);
      const quiet = now - ref;
      if (quiet > this.limit) {
        const what = appends.lastAttempt === null || appends.lastAttempt < this.since ? 'no probe round completed yet' : 'no probe round completed';
        return { healthy: false, reason: `probe loop stalled: ${what} for ${seconds(quiet)} s (limit ${seconds(this.limit)} s)` };
      }
    }
    return { healthy: true, reason: null };
  }

  /** The longest the loop may go without completing a round under `ops`; null when no rounds are expected. */
  stallLimitMs(ops: OperationalConfig): number | null {
    if (!ops.agent_operations.monitoring_enabled || ops.probes.length === 0) return null;
    const from = this.inputs.wallNow?.() ?? new Date();
    const cronGaps = new Map<string, number>();
    const period = (p: ProbeConfig): number => {
      if (p.cron === undefined) return (p.probe_interval ?? ops.agent_operations.probe_interval) * 1000;
      let gap = cronGaps.get(p.cron);
      if (gap === undefined) {
        gap = cronGaps.size < CRON_EXPRESSIONS ? longestCronGapMs(p.cron, from) : Infinity;
        cronGaps.set(p.cron, gap);
      }
      return gap;
    };
    let fastest = Infinity;
    for (const p of ops.probes) fastest = Math.min(fastest, period(p) + this.durationMs(p));
    return fastest === Infinity ? null : 2 * fastest + this.slackMs;
  }

  /** D of one probe's round (see Health). */
  private durationMs(p: ProbeConfig): number {
    return (p.count - 1) * p.interval_ms + p.timeout_ms + (isIP(p.ip_address) === 0 ? this.resolveMs : 0);
  }
}

/** The longest gap between consecutive runs over the next CRON_SAMPLES; Infinity if it cannot tell. */
export function longestCronGapMs(expr: string, from: Date): number {
  try {
    // UTC: half the cost, and an hour of daylight saving time is lost in the limit's 2x.
    const it = cronParser.parseExpression(expr, { currentDate: from, utc: true });
    let prev = from.getTime();
    let longest = 0;
    for (let i = 0; i < CRON_SAMPLES && it.hasNext(); i++) {
      const t = it.next().getTime();
      longest = Math.max(longest, t - prev);
      prev = t;
    }
    return longest > 0 ? longest : Infinity;
  } catch {
    // The config schema validated it; a schedule we cannot read must not fake a stall.
    return Infinity;
  }
}

function seconds(ms: number): string {
  return String(Math.round(ms / 1000));
}
