import type { AgentState, LastError } from '../core/control.js';
import type { Outbox, OutboxStats } from '../core/outbox.js';
import type { ControlState } from './control-state.js';

export interface StateSources {
  deviceId: string;
  agentVersion: string;
  control: ControlState;
  outbox: Pick<Outbox, 'stats'>;
  skippedRounds: () => number;
  /** The uplink's last failure (the drainer's), if any. */
  uplinkError: () => LastError | null;
  /** Seconds since the agent started. */
  uptimeS: () => number;
  now?: () => Date;
}

/** The fields that change all the time; the rest make a state "changed". */
const VOLATILE: ReadonlySet<keyof AgentState> = new Set(['uptime_s', 'outbox', 'last_delivery', 'updated_at']);

/** Builds state snapshots; keeps the last outbox stats for when the outbox cannot answer. */
export class StateBuilder {
  private lastStats: OutboxStats | null = null;

  constructor(private readonly src: StateSources) {}

  build(): AgentState {
    const { src } = this;
    const c = src.control;
    const ops = c.ops;
    let stats = this.lastStats;
    try {
      stats = this.lastStats = src.outbox.stats();
    } catch {
      // the outbox logs its own failures; the state shows the last numbers it gave
    }
    return {
      agent_version: src.agentVersion,
      device: src.deviceId,
      config_version: c.version,
      config_source: c.source,
      config_error: c.configError,
      monitoring_enabled: ops.agent_operations.monitoring_enabled,
      probes: ops.probes.length,
      outbox: { rows: stats?.rows ?? 0, bytes: stats?.bytes ?? 0, oldest: stats?.oldest ?? null },
      dropped_total: stats?.dropped_total ?? 0,
      last_delivery: stats?.last_delivery ?? null,
      last_error: latest(c.lastError, src.uplinkError()),
      uptime_s: Math.floor(src.uptimeS()),
      skipped_rounds: src.skippedRounds(),
      rejected_messages: c.rejected,
      updated_at: (src.now ?? (() => new Date()))().toISOString(),
    };
  }
}

/** The part of a state whose change is worth publishing at once. */
export function significant(s: AgentState): string {
  return JSON.stringify(Object.entries(s).filter(([k]) => !VOLATILE.has(k as keyof AgentState)));
}

function latest(a: LastError | null, b: LastError | null): LastError | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b.at) > Date.parse(a.at) ? b : a;
}
