import { z } from 'zod';
import { cidrProblem } from '../control/cidr.js';
import { ICMP_PAYLOAD } from '../core/probe.js';
import { icmpProbeSchema } from './probe-schema.js';

// The one config schema. The TypeScript types and the defaults derive from it; the file,
// the CLI and remote config are all validated by it. Remote config may carry only the
// operational part (agent_operations and probes).

export const agentOperationsSchema = z.strictObject({
  monitoring_enabled: z.boolean().default(true),
  /** Seconds between rounds, for probes that set neither probe_interval nor cron. */
  probe_interval: z.number().min(1).max(86_400).default(60),
});

export const probesSchema = z
  .array(icmpProbeSchema)
  .max(10_000)
  .default([])
  .superRefine((probes, ctx) => {
    const seen = new Set<string>();
    probes.forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate probe name "${p.name}"` });
      seen.add(p.name);
    });
  });

export const operationalSchema = z.strictObject({
  agent_operations: agentOperationsSchema.prefault({}),
  probes: probesSchema,
});

const file = z.string().min(1);
const common = {
  /** Telemetry results per message (the message also stays under the broker's size limit). */
  batch_max: z.number().int().min(1).max(10_000).default(500),
  /** Telemetry messages published and not yet acknowledged (PUBACK). */
  inflight_max: z.number().int().min(1).max(100).default(8),
  keepalive_s: z.number().int().min(10).max(1200).default(60),
};

export const mqttUplinkSchema = z.strictObject({
  profile: z.literal('mqtt'),
  url: z.string().regex(/^mqtts?:\/\/[^/\s]+(:\d+)?\/?$/, 'expected mqtt://host:port or mqtts://host:port'),
  ca_file: file.optional(),
  cert_file: file.optional(),
  key_file: file.optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  client_id: z.string().min(1).max(256).optional(),
  topic_prefix: z.string().regex(/^[^#+]*$/, 'must not contain MQTT wildcards').default(''),
  /** Skip TLS certificate verification. Never the default; logged loudly when used. */
  insecure: z.boolean().default(false),
  ...common,
}).superRefine((u, ctx) => {
  if ((u.cert_file === undefined) !== (u.key_file === undefined)) {
    ctx.addIssue({ code: 'custom', path: [u.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'cert_file and key_file go together' });
  }
});

export const iotCoreUplinkSchema = z.strictObject({
  profile: z.literal('iot-core'),
  host: z.string().min(1),
  port: z.union([z.literal(8883), z.literal(443)]).default(8883),
  project: z.string().min(1),
  region: z.string().min(1),
  registry: z.string().min(1),
  private_key_file: file,
  algorithm: z.enum(['ES256', 'RS256']).default('ES256'),
  ca_file: file.optional(),
  /** Lifetime of each JWT; the agent reconnects with a fresh one before it expires. */
  jwt_ttl_minutes: z.number().int().min(10).max(1440).default(60),
  ...common,
});

export const uplinkSchema = z.discriminatedUnion('profile', [mqttUplinkSchema, iotCoreUplinkSchema]);

export const outboxSchema = z.strictObject({
  /** Default: <state_dir>/outbox.db */
  path: file.optional(),
  max_mb: z.number().min(1).max(1_000_000).default(64),
  max_age_days: z.number().positive().max(36_500).optional(),
  /** "full": a committed round survives power loss; "normal": it may be lost, never corrupt. */
  synchronous: z.enum(['full', 'normal']).default('full'),
});

const cidrSchema = z.string().superRefine((c, ctx) => {
  const problem = cidrProblem(c);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Limits on config that comes from the cloud, so that a hijacked cloud account cannot turn
 * the fleet into a flood source. Local only: remote config cannot carry this section, and
 * the operator's own file and CLI are not held to it.
 */
export const safetySchema = z.strictObject({
  /** Packets per second of all probes together (count / period, summed), and of any one probe (1000 / interval_ms). */
  max_pps: z.number().positive().max(1_000_000).default(50),
  max_probes: z.number().int().min(0).max(10_000).default(200),
  /** Shortest period between rounds of a probe, in seconds (cron: the shortest gap). */
  min_probe_interval_s: z.number().min(0).max(86_400).default(1),
  /** Largest ICMP payload, in bytes (1472 fills a 1500-byte Ethernet frame over IPv4). */
  max_size: z.number().int().min(ICMP_PAYLOAD.min).max(ICMP_PAYLOAD.max).default(1472),
  /** When set, remote targets must lie inside one of these; naming loopback or own addresses here allows them. */
  allow_cidrs: z.array(cidrSchema).max(1000).optional(),
  /** Remote targets inside these are refused, whatever allow_cidrs says. */
  deny_cidrs: z.array(cidrSchema).max(1000).optional(),
  /** Commands from the cloud executed per minute; more are rejected. */
  max_commands_per_minute: z.number().int().min(1).max(10_000).default(10),
  /**
   * A restart command is refused until the agent has run this long (seconds): restarts in
   * a row would otherwise hit systemd's start limit and leave the unit failed.
   */
  restart_min_uptime_s: z.number().min(0).max(86_400).default(180),
});

export const configSchema = z.strictObject({
  device: z.strictObject({ id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, . _ : - (1..128)').optional() }).prefault({}),
  /** Default: $STATE_DIRECTORY (set by systemd), else /var/lib/fleetprobe */
  state_dir: file.optional(),
  log_level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  agent_operations: agentOperationsSchema.prefault({}),
  probes: probesSchema,
  uplink: uplinkSchema.optional(),
  outbox: outboxSchema.prefault({}),
  clock: z.strictObject({
    /**
     * Treat the clock as right even when the kernel says NTP has not synchronized it: for
     * devices with a battery-backed RTC and no NTP. Otherwise results say clock_synced:
     * false and the iot-core profile waits for the clock before it authenticates.
     */
    assume_synced: z.boolean().default(false),
  }).prefault({}),
  safety: safetySchema.prefault({}),
  update: z.strictObject({
    /**
     * The pinned Ed25519 public key (PEM) that a .deb given to the update command by URL must
     * be signed with: a file directly in /etc/fleetprobe/. Without it URL updates are refused;
     * version updates are verified by apt (the repository's signed metadata).
     */
    public_key_file: z.string().regex(/^\/etc\/fleetprobe\/[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/, 'expected a file directly in /etc/fleetprobe/').optional(),
  }).prefault({}),
  /** Seconds: the state is published on every change (at most once a second) and at least this often. */
  state_interval: z.number().min(1).max(86_400).default(60),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type OperationalConfig = z.infer<typeof operationalSchema>;
export type UplinkConfig = z.infer<typeof uplinkSchema>;
export type MqttUplinkConfig = z.infer<typeof mqttUplinkSchema>;
export type IotCoreUplinkConfig = z.infer<typeof iotCoreUplinkSchema>;
export type OutboxConfig = z.infer<typeof outboxSchema>;
export type SafetyConfig = z.infer<typeof safetySchema>;
export type ProbeConfig = Config['probes'][number];
