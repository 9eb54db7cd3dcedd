import { z } from 'zod';
import { jsonPath } from '../config/probe-schema.js';
import { operationalSchema, type OperationalConfig } from '../config/schema.js';
import { isPlainObject, safeParseJson } from './safe-json.js';

// The config document the cloud sends: { version, agent_operations, probes }, validated by
// the same schema as the file's operational sections.

export const configVersionSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const remoteConfigSchema = operationalSchema.extend({ version: configVersionSchema });

export interface ConfigProblem {
  /** JSON path into the document; '' for the document as a whole. */
  path: string;
  reason: string;
}

export type RemoteConfigParse =
  | { ok: true; version: number; ops: OperationalConfig; document: Record<string, unknown> }
  | { ok: false; version: number | null; problems: ConfigProblem[] };

/** Parses and validates a config message; the policy and the version order are the caller's. */
export function parseRemoteConfig(payload: Buffer): RemoteConfigParse {
  const parsed = safeParseJson(payload);
  if (!parsed.ok) return { ok: false, version: versionOf(parsed.value), problems: [{ path: '', reason: parsed.reason }] };
  return validateRemoteConfig(parsed.value);
}

/** Validates a parsed document (also the persisted copy at start). */
export function validateRemoteConfig(value: unknown): RemoteConfigParse {
  const version = versionOf(value);
  if (!isPlainObject(value)) return { ok: false, version, problems: [{ path: '', reason: `expected a JSON object, got ${describe(value)}` }] };
  const r = remoteConfigSchema.safeParse(value);
  if (!r.success) return { ok: false, version, problems: zodProblems(r.error) };
  const { version: v, ...ops } = r.data;
  const { version: _dropped, ...document } = value;
  return { ok: true, version: v, ops, document };
}

/** Only a strictly newer version applies: the cloud re-sends the latest one on every subscribe. */
export function isNewerVersion(incoming: number, current: number | null): boolean {
  return current === null || incoming > current;
}

export function zodProblems(error: z.ZodError): ConfigProblem[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: jsonPath([...i.path, k]), reason: 'unknown key' })) : [{ path: jsonPath(i.path), reason: i.message }],
  );
}

export function formatProblem(p: ConfigProblem): string {
  return p.path ? `${p.path}: ${p.reason}` : p.reason;
}

function versionOf(value: unknown): number | null {
  if (!isPlainObject(value)) return null;
  const v = value.version;
  return configVersionSchema.safeParse(v).success ? (v as number) : null;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}
