import { fstatSync } from 'node:fs';
import type { LogLevel, Logger } from '../core/logger.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** syslog priorities, as journald reads them from a `<N>` line prefix. */
const PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };
const COLOUR: Record<LogLevel, number | null> = { debug: 2, info: null, warn: 33, error: 31 };

export interface LineLoggerOptions {
  /**
   * The stream is connected to journald: prefix lines with `<N>` so each gets its priority
   * (`journalctl -p warning` then works). See journalStream().
   */
  journal?: boolean;
  /** Colour on a TTY (default); NO_COLOR in the environment turns it off. */
  colour?: boolean;
}

/**
 * One line per event with its level, the way journald wants it (it adds time and unit).
 * Colour only on a TTY, never in the journal.
 */
export class LineLogger implements Logger {
  private readonly colour: boolean;
  private readonly journal: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly minLevel: LogLevel = 'info',
    opts: LineLoggerOptions = {},
  ) {
    this.journal = opts.journal ?? false;
    this.colour = !this.journal && (opts.colour ?? true) && out.isTTY === true;
  }

  debug(message: string): void { this.write('debug', message); }
  info(message: string): void { this.write('info', message); }
  warn(message: string): void { this.write('warn', message); }
  error(message: string): void { this.write('error', message); }

  private write(level: LogLevel, message: string): void {
    if (ORDER[level] < ORDER[this.minLevel]) return;
    // One event, one line; and text from the network (remote config, broker errors) must not
    // smuggle escape sequences into a terminal or the journal.
    const text = message.replace(/[\r\n]+/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    const code = COLOUR[level];
    const tag = this.colour && code !== null ? `\x1b[${code}m${level}\x1b[0m` : level;
    this.out.write(`${this.journal ? `<${PRIORITY[level]}>` : ''}${tag}: ${text}\n`);
  }
}

/**
 * Whether file descriptor `fd` is the journal stream systemd connected it to: $JOURNAL_STREAM
 * holds "device:inode" of that stream (systemd.exec(5)), and a shell redirect in between
 * would show a different file. Anything unreadable counts as "no".
 */
export function journalStream(env: NodeJS.ProcessEnv, fd: number, stat: (fd: number) => { dev: number; ino: number } = fstatSync): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const s = stat(fd);
    return s.dev === Number(m[1]) && s.ino === Number(m[2]);
  } catch {
    return false;
  }
}

/** Colour unless NO_COLOR (https://no-color.org) or TERM=dumb says otherwise. */
export function colourWanted(env: NodeJS.ProcessEnv): boolean {
  return (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}
