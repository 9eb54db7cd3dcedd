import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseJsonc } from '../agent/config/jsonc.js';

// The console's own config file (JSON with comments), every field optional; CLI flags of
// `serve` override it. Nothing here is the agent's: the agent's schema is imported where
// device config is validated.

const file = z.string().min(1);
const port = z.number().int().min(0).max(65_535);

export const consoleConfigSchema = z.strictObject({
  /** Default: $STATE_DIRECTORY, else /var/lib/fleetprobe-console as root, else ~/.local/state/fleetprobe-console */
  state_dir: file.optional(),
  log_level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  http: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
  }).prefault({}),
  /** The admin token; without it one is generated at first start (its hash kept in the store). */
  admin_token: z.string().min(16, 'at least 16 characters').optional(),
  topic_prefix: z.string().regex(/^[^#+]*$/, 'must not contain MQTT wildcards').default(''),
  /** The embedded broker (used unless external_broker is set). Devices on the network need host "0.0.0.0". */
  broker: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    /** Plain MQTT; null: none (TLS only). */
    port: port.nullable().default(1883),
    tls: z.strictObject({ port: port.default(8883), cert_file: file, key_file: file }).optional(),
    /** What IoT Core-style client ids must name: projects/{project}/locations/{region}/registries/{registry}/devices/{id}. */
    iot_core: z.strictObject({
      project: z.string().min(1).default('fleetprobe'),
      region: z.string().min(1).default('local'),
      registry: z.string().min(1).default('fleet'),
    }).prefault({}),
  }).prefault({}),
  /** An external broker (Mosquitto, EMQX) the console uses as a privileged client. */
  external_broker: z.strictObject({
    url: z.string().regex(/^mqtts?:\/\/[^/\s]+(:\d+)?\/?$/, 'expected mqtt://host:port or mqtts://host:port'),
    username: z.string().min(1).default('fleetprobe-console'),
    password: z.string().optional(),
    ca_file: file.optional(),
    client_id: z.string().min(1).default('fleetprobe-console'),
    /** Written from the registry on every change (Mosquitto: reload with SIGHUP to apply). */
    mosquitto_password_file: file.optional(),
    mosquitto_acl_file: file.optional(),
  }).optional(),
  store: z.strictObject({
    /** Default: <state_dir>/console.db */
    path: file.optional(),
    synchronous: z.enum(['full', 'normal']).default('full'),
  }).prefault({}),
});

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;

export class ConsoleConfigError extends Error {
  override readonly name = 'ConsoleConfigError';
  readonly exitCode = 78;
}

export function parseConsoleConfig(value: unknown, where: string): ConsoleConfig {
  const r = consoleConfigSchema.safeParse(value);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  const path = i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]].join('.') : i.path.join('.');
  throw new ConsoleConfigError(`${where}: ${path || '(top level)'}: ${i.code === 'unrecognized_keys' ? 'unknown key' : i.message}`);
}

export function loadConsoleConfig(path: string | undefined): ConsoleConfig {
  if (path === undefined) return parseConsoleConfig({}, 'defaults');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConsoleConfigError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseJsonc(text);
  } catch (err) {
    throw new ConsoleConfigError(`${path}: ${(err as Error).message}`);
  }
  return parseConsoleConfig(value, path);
}

export function defaultStateDir(env: NodeJS.ProcessEnv, uid: number | undefined = process.getuid?.()): string {
  if (env.FLEETPROBE_CONSOLE_STATE_DIR) return env.FLEETPROBE_CONSOLE_STATE_DIR;
  if (env.STATE_DIRECTORY) return env.STATE_DIRECTORY.split(':')[0]!;
  if (uid === 0) return '/var/lib/fleetprobe-console';
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'fleetprobe-console');
}
