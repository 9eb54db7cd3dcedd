import { z } from 'zod';

// The one measurement record: produced by probes, stored by the outbox, sent by the uplink.
// Milliseconds carry microsecond precision (3 decimals).

const ms = z.number().nonnegative();

export const probeErrorSchema = z.strictObject({
  kind: z.enum(['icmp', 'resolve', 'send']),
  type: z.number().int().min(0).max(255).optional(),
  code: z.union([z.number().int(), z.string()]).optional(),
  from: z.string().optional(),
  message: z.string(),
  count: z.number().int().positive(),
});

export const probeResultSchema = z.strictObject({
  schema: z.literal(1),
  type: z.literal('icmp'),
  name: z.string(),
  target: z.string(),
  address: z.string().nullable(),
  family: z.union([z.literal(4), z.literal(6)]),
  ts: z.iso.datetime({ precision: 3 }),
  size: z.number().int().nonnegative(),
  sent: z.number().int().nonnegative(),
  received: z.number().int().nonnegative(),
  duplicates: z.number().int().nonnegative(),
  late: z.number().int().nonnegative(),
  loss_pct: z.number().min(0).max(100),
  min_ms: ms.nullable(),
  avg_ms: ms.nullable(),
  max_ms: ms.nullable(),
  mdev_ms: ms.nullable(),
  median_ms: ms.nullable(),
  jitter_ms: ms.nullable(),
  rtts_ms: z.array(ms.nullable()),
  ttl: z.number().int().min(0).max(255).nullable(),
  errors: z.array(probeErrorSchema),
  /** Set by the agent: false while the system clock is not NTP-synchronized (ts may be wrong). */
  clock_synced: z.boolean().optional(),
});

export type ProbeResult = z.infer<typeof probeResultSchema>;
export type ProbeError = z.infer<typeof probeErrorSchema>;
export type AddressFamily = ProbeResult['family'];
