import { z } from 'zod';
import type { OperationalConfig } from '../config/schema.js';
import type { ConfigErrorInfo, ConfigSource } from '../core/control.js';
import { formatProblem, validateRemoteConfig, type ConfigProblem } from './remote-config.js';
import type { SafetyPolicy } from './safety-policy.js';

// What the agent runs: the remote config persisted in the state directory over the file's
// operational sections, and a start/stop command over whichever config came before it.

export interface RemoteRecord {
  version: number;
  /** The document as received (without its version): re-validated at every start. */
  document: Record<string, unknown>;
  applied_at: string;
}

export interface MonitoringOverride {
  enabled: boolean;
  command_id: string;
  at: string;
}

export interface PersistedControl {
  remote: RemoteRecord | null;
  monitoring: MonitoringOverride | null;
}

const persistedSchema = z.object({
  format: z.literal(1),
  remote: z.object({ version: z.number(), document: z.record(z.string(), z.unknown()), applied_at: z.string() }).nullable(),
  monitoring: z.object({ enabled: z.boolean(), command_id: z.string(), at: z.string() }).nullable(),
});

export function toStored(p: PersistedControl): Record<string, unknown> {
  return { format: 1, remote: p.remote, monitoring: p.monitoring };
}

/** The persisted control state; an empty or unreadable store counts as none (reported). */
export function readPersisted(raw: unknown): { persisted: PersistedControl; problem: string | null } {
  const empty = { remote: null, monitoring: null };
  if (raw === null || (typeof raw === 'object' && Object.keys(raw).length === 0)) return { persisted: empty, problem: null };
  const r = persistedSchema.safeParse(raw);
  if (!r.success) return { persisted: empty, problem: 'the persisted remote config is not in the expected format' };
  return { persisted: { remote: r.data.remote, monitoring: r.data.monitoring }, problem: null };
}

export interface Effective {
  /** With the monitoring override applied. */
  ops: OperationalConfig;
  source: ConfigSource;
  version: number | null;
  remote: RemoteRecord | null;
  monitoring: MonitoringOverride | null;
  /** Why the persisted remote config was not used (the local policy tightened since, say). */
  problem: ConfigErrorInfo | null;
}

export function configError(version: number | null, problems: readonly ConfigProblem[], at: Date): ConfigErrorInfo {
  const first = problems[0] ?? { path: '', reason: 'invalid' };
  return { version, path: first.path, reason: first.reason, at: at.toISOString(), problems: problems.slice(0, 20).map(formatProblem) };
}

/**
 * Works out the effective config at start. A persisted remote config that no longer
 * validates or passes the local policy is not used (and reported); it is never a reason to
 * refuse to start, which would leave a device nobody can reach.
 */
export function resolveEffective(fileOps: OperationalConfig, persisted: PersistedControl, policy: SafetyPolicy, now: Date = new Date()): Effective {
  let problem: ConfigErrorInfo | null = null;
  let ops = fileOps;
  let remote: RemoteRecord | null = null;
  if (persisted.remote) {
    const v = validateRemoteConfig({ ...persisted.remote.document, version: persisted.remote.version });
    const problems = v.ok ? policy.check(v.ops) : v.problems;
    if (v.ok && problems.length === 0) {
      ops = v.ops;
      remote = persisted.remote;
    } else {
      problem = configError(persisted.remote.version, problems.map((p) => ({ path: p.path, reason: `persisted config not applied: ${p.reason}` })), now);
    }
  }
  return {
    ops: withMonitoring(ops, persisted.monitoring),
    source: remote ? 'remote' : 'file',
    version: remote?.version ?? null,
    remote,
    monitoring: persisted.monitoring,
    problem,
  };
}

export function withMonitoring(ops: OperationalConfig, override: MonitoringOverride | null): OperationalConfig {
  if (override === null || override.enabled === ops.agent_operations.monitoring_enabled) return ops;
  return { ...ops, agent_operations: { ...ops.agent_operations, monitoring_enabled: override.enabled } };
}
