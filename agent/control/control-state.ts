import type { OperationalConfig } from '../config/schema.js';
import type { ConfigErrorInfo, ConfigSource, LastError } from '../core/control.js';
import type { AddressGuard } from '../core/probe.js';
import { toStored, withMonitoring, type Effective, type MonitoringOverride, type RemoteRecord } from './effective-config.js';
import type { JsonStore } from './json-store.js';
import type { SafetyPolicy } from './safety-policy.js';

export interface ControlStateDeps {
  fileOps: OperationalConfig;
  store: JsonStore;
  policy: SafetyPolicy;
  /** Makes a config live (AgentService.apply): the schedule is swapped, rounds in flight finish. */
  apply: (ops: OperationalConfig, guard: AddressGuard | null) => void;
  now?: () => Date;
}

interface Snapshot {
  remote: RemoteRecord | null;
  remoteOps: OperationalConfig | null;
  monitoring: MonitoringOverride | null;
}

/** The same refusal repeated every round is one error, not a new one each second. */
const REPEAT_ERROR_AFTER_MS = 60_000;

/**
 * The one owner of what the agent runs and why: the remote config (persisted), the
 * monitoring switch from start/stop, the last refused config, counters. Every change is
 * persisted first and then applied, so the running agent and the state directory agree.
 */
export class ControlState {
  private remote: RemoteRecord | null;
  private monitoring: MonitoringOverride | null;
  private remoteOps: OperationalConfig | null;
  private listeners = new Set<() => void>();
  private readonly now: () => Date;
  configError: ConfigErrorInfo | null;
  lastError: LastError | null = null;
  rejected = 0;

  constructor(
    private readonly deps: ControlStateDeps,
    initial: Effective,
  ) {
    this.now = deps.now ?? (() => new Date());
    this.remote = initial.remote;
    this.monitoring = initial.monitoring;
    this.remoteOps = initial.remote ? initial.ops : null;
    this.configError = initial.problem;
  }

  get source(): ConfigSource {
    return this.remote ? 'remote' : 'file';
  }

  get version(): number | null {
    return this.remote?.version ?? null;
  }

  get monitoringOverride(): MonitoringOverride | null {
    return this.monitoring;
  }

  /** The config the agent runs. */
  get ops(): OperationalConfig {
    return withMonitoring(this.remoteOps ?? this.deps.fileOps, this.monitoring);
  }

  /** Remote probes are checked after every resolution; the file's are the operator's own. */
  guard(): AddressGuard | null {
    return this.remote ? this.deps.policy.guard((why) => this.noteError(`remote probe skipped: ${why}`)) : null;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Persists, then applies, a remote config that passed validation and policy. Throws, changing nothing, if either fails. */
  applyRemote(version: number, document: Record<string, unknown>, ops: OperationalConfig): void {
    // The latest of a config or a start/stop command wins: a new config replaces the switch.
    this.commit({ remote: { version, document, applied_at: this.now().toISOString() }, remoteOps: ops, monitoring: null }, true);
    this.configError = null;
    this.changed();
  }

  /** start/stop: persisted like a config change; returns whether monitoring changed. Throws, changing nothing, on failure. */
  setMonitoring(enabled: boolean, commandId: string): boolean {
    const was = this.ops.agent_operations.monitoring_enabled;
    const monitoring = { enabled, command_id: commandId, at: this.now().toISOString() };
    this.commit({ remote: this.remote, remoteOps: this.remoteOps, monitoring }, was !== enabled);
    if (was !== enabled) this.changed();
    return was !== enabled;
  }

  /**
   * Persist first, then apply: what runs is always what a restart would run. Should the
   * apply fail after the write (it cannot for a config the schema accepted, but the
   * scheduler may throw), the previous state is written and applied again.
   */
  private commit(next: Snapshot, apply: boolean): void {
    const prev: Snapshot = { remote: this.remote, remoteOps: this.remoteOps, monitoring: this.monitoring };
    this.persist(next.remote, next.monitoring);
    this.restore(next);
    if (!apply) return;
    try {
      this.deps.apply(this.ops, this.guard());
    } catch (err) {
      this.restore(prev);
      try {
        this.persist(prev.remote, prev.monitoring);
      } finally {
        this.deps.apply(this.ops, this.guard());
      }
      throw err;
    }
  }

  rejectConfig(error: ConfigErrorInfo): void {
    this.configError = error;
    this.countRejected();
  }

  countRejected(): void {
    this.rejected++;
    this.changed();
  }

  noteError(message: string): void {
    const now = this.now();
    const last = this.lastError;
    if (last && last.message === message && now.getTime() - Date.parse(last.at) < REPEAT_ERROR_AFTER_MS) return;
    this.lastError = { at: now.toISOString(), message };
    this.changed();
  }

  private restore(s: Snapshot): void {
    this.remote = s.remote;
    this.remoteOps = s.remoteOps;
    this.monitoring = s.monitoring;
  }

  private persist(remote: RemoteRecord | null, monitoring: MonitoringOverride | null): void {
    this.deps.store.write(toStored({ remote, monitoring }));
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
