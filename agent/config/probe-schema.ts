import { isIP } from 'node:net';
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
} as const;

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
}).superRefine((p, ctx) => {
  const literal = isIP(p.ip_address);
  if (p.family !== undefined && literal !== 0 && literal !== p.family) {
    ctx.addIssue({ code: 'custom', path: ['ip_address'], message: `${p.ip_address} is not an IPv${p.family} address` });
  }
});

export type IcmpProbeConfig = z.infer<typeof icmpProbeSchema>;

/** One line per problem: `path: reason`. */
export function formatIssues(error: z.ZodError, label: (path: string) => string = (p) => p): string[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    return path ? `${label(path)}: ${i.message}` : i.message;
  });
}
