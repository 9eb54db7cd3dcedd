import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import Conf from 'conf';
import type { Logger } from '../core/logger.js';

/** One small JSON document in the state directory, replaced whole and atomically. */
export interface JsonStore {
  readonly path: string;
  /** The stored object; {} when there is none yet. */
  read(): Record<string, unknown>;
  /** Throws when the write fails (read-only or full disk): the old content stays. */
  write(value: Record<string, unknown>): void;
}

/** The files this layer keeps in the state directory. */
export const CONTROL_FILES = {
  remoteConfig: 'remote-config',
  replies: 'command-replies',
  status: 'status',
} as const;

export function controlFilePath(stateDir: string, name: string): string {
  return join(stateDir, `${name}.json`);
}

/**
 * A JsonStore on `conf`, which writes to a temporary file, fsyncs and renames: a power cut
 * leaves the old document or the new one, never half of one. A file that does not parse
 * (it was edited by hand, or the SD card lost it) is moved aside, and the store starts
 * empty: the agent must come up either way.
 */
export function openConfStore(stateDir: string, name: string, logger: Logger): JsonStore {
  const options = { cwd: stateDir, configName: name, configFileMode: 0o600, accessPropertiesByDotNotation: false } as const;
  let conf: Conf<Record<string, unknown>>;
  try {
    conf = new Conf<Record<string, unknown>>(options);
  } catch (err) {
    if ((err as Error).name !== 'SyntaxError') throw err;
    const path = controlFilePath(stateDir, name);
    const aside = `${path}.corrupt-${Date.now()}`;
    renameSync(path, aside);
    logger.warn(`control: ${path} could not be read (${(err as Error).message.split('\n')[0]}): moved to ${aside}, starting without it`);
    conf = new Conf<Record<string, unknown>>(options);
  }
  return {
    path: conf.path,
    read: () => {
      const v: unknown = conf.store;
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    },
    write: (value) => {
      conf.store = value;
    },
  };
}

/** Reads a control file without creating anything (for the CLI); null when it does not exist. */
export function readControlFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return JSON.parse(text) as unknown;
}
