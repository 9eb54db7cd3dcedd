import { isIP } from 'node:net';
import cronParser from 'cron-parser';
import { z } from 'zod';
import { ICMP_PAYLOAD } from '../core/probe.js';
import { targetProblem } from './target.js';

// The probe section of the config: the file, the CLI and remote config all validate
// probes with this schema.

export const PROBE_LIMITS = {
  count: { min: 1, max: 100_000 },
  size: ICMP_PAYLOAD,
  // iputils refuses intervals below 2 ms even for root.
  interval_ms: { min: 2, max: 3_600_000 },
  timeout_ms: { min: 1, max: 600_000 },
  probe_interval: { min: 1, max: 86_400 },
} as const;

const { parseExpression } = cronParser;

export const cronSchema = z.string().superRefine((expr, ctx) => {
  try {
    parseExpression(expr);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression: ${(err as Error).message}` });
  }
});

export const targetSchema = z.string().superRefine((t, ctx) => {
  const problem = targetProblem(t);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const icmpProbeSchema = z.strictObject({
  name: z.string().min(1).max(128),
  type: z.literal('icmp').default('icmp'),
  ip_address: targetSchema,
  family: z.union([z.literal(4), z.literal(6)]).optional(),
  count: z.number().int().min(PROBE_LIMITS.count.min).max(PROBE_LIMITS.count.max).default(4),
  size: z.number().int().min(PROBE_LIMITS.size.min).max(PROBE_LIMITS.size.max).default(56),
  interval_ms: z.number().min(PROBE_LIMITS.interval_ms.min).max(PROBE_LIMITS.interval_ms.max).default(1000),
  timeout_ms: z.number().min(PROBE_LIMITS.timeout_ms.min).max(PROBE_LIMITS.timeout_ms.max).default(1000),
  /** Seconds between rounds of this probe (overrides agent_operations.probe_interval). */
  probe_interval: z.number().min(PROBE_LIMITS.probe_interval.min).max(PROBE_LIMITS.probe_interval.max).optional(),
  /** A cron expression (node-schedule syntax, optional seconds field) instead of an interval. */
  cron: cronSchema.optional(),
}).superRefine((p, ctx) => {
  if (p.cron !== undefined && p.probe_interval !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['cron'], message: 'give either cron or probe_interval, not both' });
  }
  const literal = isIP(p.ip_address);
  if (p.family !== undefined && literal !== 0 && literal !== p.family) {
    ctx.addIssue({ code: 'custom', path: ['ip_address'], message: `${p.ip_address} is not an IPv${p.family} address` });
  }
});

export type IcmpProbeConfig = z.infer<typeof icmpProbeSchema>;

/** A JSON path as users read it: probes[0].count */
export function jsonPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');
}

/** One line per problem: `path: reason` (unknown keys name themselves). */
export function formatIssues(error: z.ZodError, label: (path: string) => string = (p) => p): string[] {
  return error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => `${label(jsonPath([...i.path, k]))}: unknown key`);
    }
    const path = jsonPath(i.path);
    return [path ? `${label(path)}: ${i.message}` : i.message];
  });
}
