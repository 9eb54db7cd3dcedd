import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseJsonc } from './jsonc.js';
import { formatIssues } from './probe-schema.js';
import { type Config, configSchema } from './schema.js';

export const DEFAULT_CONFIG_PATH = '/etc/fleetprobe/config.json';
export const DEFAULT_STATE_DIR = '/var/lib/fleetprobe';

/** Invalid config: one line per problem; the CLI exits 78 (EX_CONFIG). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
  }
}

/** --config, else $FLEETPROBE_CONFIG, else the packaged location. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.FLEETPROBE_CONFIG ?? DEFAULT_CONFIG_PATH;
}

export function parseConfig(text: string, file: string): Config {
  let raw: unknown;
  try {
    raw = parseJsonc(text);
  } catch (err) {
    throw new ConfigError(file, [(err as Error).message]);
  }
  const r = configSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(file, formatIssues(r.error));
  return r.data;
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError(file, [`cannot read config: ${why}`]);
  }
  return parseConfig(text, file);
}

/** Settings whose defaults come from the environment rather than the schema. */
export interface Resolved {
  deviceId: string;
  stateDir: string;
  outboxPath: string;
}

export function resolveSettings(config: Config, env: NodeJS.ProcessEnv, host: string = hostname()): Resolved {
  // systemd's StateDirectory= sets $STATE_DIRECTORY (possibly a colon-separated list).
  const stateDir = config.state_dir ?? env.STATE_DIRECTORY?.split(':')[0] ?? DEFAULT_STATE_DIR;
  return {
    deviceId: config.device.id ?? host,
    stateDir,
    outboxPath: config.outbox.path ?? join(stateDir, 'outbox.db'),
  };
}
