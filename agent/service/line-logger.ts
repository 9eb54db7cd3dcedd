import type { LogLevel, Logger } from '../core/logger.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * One line per event with its level, the way journald wants it (it adds time and unit).
 * Colour only on a TTY, never in the journal.
 */
export class LineLogger implements Logger {
  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly minLevel: LogLevel = 'info',
  ) {}

  debug(message: string): void { this.write('debug', message); }
  info(message: string): void { this.write('info', message); }
  warn(message: string): void { this.write('warn', message); }
  error(message: string): void { this.write('error', message); }

  private write(level: LogLevel, message: string): void {
    if (ORDER[level] < ORDER[this.minLevel]) return;
    const text = message.replace(/[\r\n]+/g, ' ');
    const tag = this.out.isTTY && level !== 'info' ? `\x1b[${level === 'error' ? 31 : level === 'warn' ? 33 : 2}m${level}\x1b[0m` : level;
    this.out.write(`${tag}: ${text}\n`);
  }
}
