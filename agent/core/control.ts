import { z } from 'zod';

// What the remote-control layer says to the cloud, defined once as schemas: command
// replies and the device state (also kept in the state directory for `fleetprobe status`).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const jsonSchema: z.ZodType<Json> = z.lazy(() => z.union([z.null(), z.boolean(), z.number(), z.string(), z.array(jsonSchema), z.record(z.string(), jsonSchema)]));

/** Published once per command id on /devices/{id}/events/replies (and again for a duplicate). */
export const commandReplySchema = z.object({
  id: z.string(),
  /**
   * ok: done; error: tried and failed; rejected: refused before anything was done;
   * accepted: started, a final reply (ok or error) with the same id follows (update).
   */
  status: z.enum(['ok', 'error', 'rejected', 'accepted']),
  error: z.string().optional(),
  result: jsonSchema.optional(),
});

/** The last config the agent refused (remote, or the persisted copy at start). */
export const configErrorSchema = z.object({
  version: z.number().nullable(),
  /** JSON path of the first problem ('' for the document as a whole). */
  path: z.string(),
  reason: z.string(),
  at: z.string(),
  /** Every problem, one line each (`path: reason`), at most 20. */
  problems: z.array(z.string()),
});

export const lastErrorSchema = z.object({ at: z.string(), message: z.string() });

export const agentStateSchema = z.object({
  agent_version: z.string(),
  device: z.string(),
  /** null while only the local file applies. */
  config_version: z.number().nullable(),
  config_source: z.enum(['file', 'remote']),
  config_error: configErrorSchema.nullable(),
  monitoring_enabled: z.boolean(),
  /** Probes in the effective config (they run only while monitoring is enabled). */
  probes: z.number().int(),
  outbox: z.object({ rows: z.number(), bytes: z.number(), oldest: z.string().nullable() }),
  dropped_total: z.number(),
  last_delivery: z.string().nullable(),
  last_error: lastErrorSchema.nullable(),
  uptime_s: z.number(),
  skipped_rounds: z.number(),
  /** Control messages refused since start (bad config, unusable or rejected commands). */
  rejected_messages: z.number(),
  /** When this snapshot was taken. */
  updated_at: z.string(),
});

export type CommandReply = z.infer<typeof commandReplySchema>;
export type ReplyStatus = CommandReply['status'];
export type ConfigErrorInfo = z.infer<typeof configErrorSchema>;
export type LastError = z.infer<typeof lastErrorSchema>;
export type AgentState = z.infer<typeof agentStateSchema>;
export type ConfigSource = AgentState['config_source'];
