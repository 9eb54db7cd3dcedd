import type { ClockStatus } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Outbox, OutboxDrain } from '../core/outbox.js';
import type { AddressGuard, IcmpProbeSpec, Prober } from '../core/probe.js';
import type { OperationalConfig, ProbeConfig } from '../config/schema.js';
import type { Scheduler, Task } from '../schedule/scheduler.js';

export interface AgentServiceDeps {
  prober: Prober;
  scheduler: Scheduler;
  outbox: Outbox;
  /** Null when no uplink is configured: results are only buffered. */
  drain: OutboxDrain | null;
  clock: ClockStatus;
  logger: Logger;
}

export interface AgentCounters {
  rounds: number;
  results: number;
  append_failures: number;
  /** performance.now() of the last committed round, for health checks. */
  last_commit: number | null;
}

export function toSpec(p: ProbeConfig, guard: AddressGuard | null = null): IcmpProbeSpec {
  const spec: IcmpProbeSpec = { name: p.name, target: p.ip_address, family: p.family ?? null, count: p.count, size: p.size, interval_ms: p.interval_ms, timeout_ms: p.timeout_ms };
  if (guard !== null) spec.guard = guard;
  return spec;
}

/**
 * The long-running agent: probes on the schedule, commits every round to the outbox before
 * anything else, then wakes the uplink. Results flow one way: prober -> outbox -> drain.
 */
export class AgentService {
  readonly counters: AgentCounters = { rounds: 0, results: 0, append_failures: 0, last_commit: null };
  private ops: OperationalConfig | null = null;
  private guard: AddressGuard | null = null;
  /** Skipped rounds of task sets replaced by apply(): the scheduler forgets them. */
  private skippedBefore = 0;
  private lastSynced: boolean | null = null;

  constructor(private readonly deps: AgentServiceDeps) {}

  get operational(): OperationalConfig | null {
    return this.ops;
  }

  /** Rounds skipped since start (a round still running when the next was due). */
  get skippedRounds(): number {
    return this.skippedBefore + this.deps.scheduler.skippedTotal;
  }

  /**
   * Starts (or replaces) the probe schedule; rounds in flight finish and are committed.
   * `guard` checks every resolved address (remote config's safety policy).
   */
  apply(ops: OperationalConfig, guard: AddressGuard | null = null): void {
    this.skippedBefore += this.deps.scheduler.skippedTotal;
    this.ops = ops;
    this.guard = guard;
    const enabled = ops.agent_operations.monitoring_enabled;
    const tasks: Task[] = enabled ? ops.probes.map((p) => this.task(p, ops.agent_operations.probe_interval)) : [];
    this.deps.scheduler.setTasks(tasks);
    this.deps.logger.info(enabled ? `monitoring ${tasks.length} probe(s)` : 'monitoring disabled');
  }

  start(ops: OperationalConfig, guard: AddressGuard | null = null): void {
    this.deps.drain?.start();
    this.apply(ops, guard);
  }

  /** Graceful: no new rounds, rounds in flight committed, uplink drained as far as it can. */
  async stop(): Promise<void> {
    await this.deps.scheduler.stop();
    await this.deps.drain?.stop();
  }

  /** Runs one round of the named probes now, outside the schedule (e.g. a probe-now command). */
  async probeNow(names?: readonly string[]): Promise<number[]> {
    const probes = (this.ops?.probes ?? []).filter((p) => !names || names.includes(p.name));
    const seqs = await Promise.all(probes.map((p) => this.round(toSpec(p, this.guard), new Date())));
    return seqs.flat();
  }

  private task(p: ProbeConfig, defaultInterval: number): Task {
    const spec = toSpec(p, this.guard);
    const run = async (start: Date): Promise<void> => {
      await this.round(spec, start);
    };
    return p.cron !== undefined ? { name: p.name, cron: p.cron, run } : { name: p.name, every_s: p.probe_interval ?? defaultInterval, run };
  }

  private async round(spec: IcmpProbeSpec, start: Date): Promise<number[]> {
    const results = await this.deps.prober.runRound([spec], start);
    const synced = this.deps.clock.synced();
    if (this.lastSynced !== null && synced !== this.lastSynced) {
      if (synced) this.deps.logger.info('system clock is now synchronized: results carry clock_synced=true');
      else this.deps.logger.warn('system clock lost synchronization: results carry clock_synced=false');
    }
    this.lastSynced = synced;
    let seqs: number[];
    try {
      seqs = this.deps.outbox.append(results.map((r) => ({ ...r, clock_synced: synced })));
    } catch (err) {
      this.counters.append_failures++;
      this.deps.logger.error(`outbox: round of ${spec.name} not stored: ${(err as Error).message}`);
      return [];
    }
    this.counters.rounds++;
    this.counters.results += results.length;
    this.counters.last_commit = performance.now();
    if (seqs.length > 0) this.deps.logger.debug(`committed ${spec.name}: seq ${seqs[0]}${seqs.length > 1 ? `-${seqs[seqs.length - 1]}` : ''}`);
    this.deps.drain?.kick();
    return seqs;
  }
}
