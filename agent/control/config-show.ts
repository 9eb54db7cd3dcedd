import type { Config } from '../config/schema.js';
import type { Json } from '../core/control.js';
import { readPersisted, resolveEffective, type Effective } from './effective-config.js';
import { controlFilePath, CONTROL_FILES, readControlFile } from './json-store.js';
import { isPlainObject } from './safe-json.js';
import { SafetyPolicy, type InterfacesFn } from './safety-policy.js';

export type PartSource = 'file' | 'remote' | 'default' | 'command';

export interface ConfigShow {
  /** The config the agent runs (on its next start, if it is running now). */
  effective: Json;
  /** Where each part came from, by JSON path (objects are broken down, arrays are one part). */
  sources: Record<string, PartSource>;
  remote: { version: number; applied_at: string } | null;
  monitoring_command: { enabled: boolean; command_id: string; at: string } | null;
  /** Why a persisted remote config is not used. */
  notes: string[];
}

const SECRET_KEYS = new Set(['password']);
const OPERATIONAL = new Set(['agent_operations', 'probes']);

/**
 * The effective config and the source of each part: what the agent would run now, from
 * the file (validated) and the state directory (read, never written).
 */
export function showConfig(config: Config, fileRaw: unknown, stateDir: string, interfaces?: InterfacesFn): ConfigShow {
  const notes: string[] = [];
  let raw: unknown = null;
  const path = controlFilePath(stateDir, CONTROL_FILES.remoteConfig);
  try {
    raw = readControlFile(path);
  } catch (err) {
    notes.push(`${path} cannot be read (${(err as Error).message}): the file's config applies`);
  }
  const { persisted, problem } = readPersisted(raw);
  if (problem) notes.push(`${path}: ${problem}`);
  const eff: Effective = resolveEffective({ agent_operations: config.agent_operations, probes: config.probes }, persisted, new SafetyPolicy(config.safety, interfaces));
  if (eff.problem) notes.push(`remote config version ${eff.problem.version} is not used: ${eff.problem.problems.join('; ')}`);
  const effective = { ...config, agent_operations: eff.ops.agent_operations, probes: eff.ops.probes } as unknown as Record<string, Json>;
  const sources: Record<string, PartSource> = {};
  const remoteDoc = eff.remote?.document ?? null;
  walk(effective, [], (parts) => {
    const key = parts.join('.');
    if (key === 'agent_operations.monitoring_enabled' && eff.monitoring) sources[key] = 'command';
    else if (remoteDoc && OPERATIONAL.has(parts[0]!)) sources[key] = has(remoteDoc, parts) ? 'remote' : 'default';
    else sources[key] = has(fileRaw, parts) ? 'file' : 'default';
  });
  return {
    effective: redact(effective),
    sources,
    remote: eff.remote ? { version: eff.remote.version, applied_at: eff.remote.applied_at } : null,
    monitoring_command: eff.monitoring,
    notes,
  };
}

/** Human-readable: one line per part, `path = value  (source)`. */
export function formatConfigShow(show: ConfigShow): string {
  const lines: string[] = [];
  const values = new Map<string, Json>();
  walk(show.effective as Record<string, Json>, [], (parts, v) => values.set(parts.join('.'), v));
  const width = Math.min(48, Math.max(...[...values.keys()].map((k) => k.length)));
  for (const [k, v] of values) lines.push(`${k.padEnd(width)} = ${JSON.stringify(v)}  (${show.sources[k] ?? 'default'})`);
  if (show.remote) lines.push(`# remote config version ${show.remote.version}, applied ${show.remote.applied_at}`);
  if (show.monitoring_command) lines.push(`# monitoring ${show.monitoring_command.enabled ? 'started' : 'stopped'} by command ${show.monitoring_command.command_id} at ${show.monitoring_command.at}`);
  for (const n of show.notes) lines.push(`# ${n}`);
  return lines.join('\n');
}

/** Visits leaves: scalars, arrays, and empty objects; undefined (unset optionals) is skipped. */
function walk(value: Record<string, Json>, parts: string[], visit: (parts: string[], v: Json) => void): void {
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const here = [...parts, k];
    if (isPlainObject(v) && Object.keys(v).length > 0) walk(v as Record<string, Json>, here, visit);
    else visit(here, v);
  }
}

function has(raw: unknown, parts: readonly string[]): boolean {
  let cur = raw;
  for (const p of parts) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, p)) return false;
    cur = cur[p];
  }
  return true;
}

function redact(v: Record<string, Json>): Json {
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, SECRET_KEYS.has(k) && x !== undefined ? '(redacted)' : isPlainObject(x) ? redact(x as Record<string, Json>) : x]),
  );
}
