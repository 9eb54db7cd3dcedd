import type { Logger } from '../core/logger.js';

/**
 * Warnings about refused control messages, at most `perWindow` lines per window and then
 * one line saying how many were left out: whoever floods the topics must not also flood
 * the journal.
 */
export class LimitedLog {
  private windowStart = -Infinity;
  private shown = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly perWindow = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  warn(message: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.logger.warn(`control: ${this.suppressed} more refused message(s) not logged in the last ${Math.round(this.windowMs / 1000)} s`);
      this.windowStart = t;
      this.shown = 0;
      this.suppressed = 0;
    }
    if (this.shown < this.perWindow) {
      this.shown++;
      this.logger.warn(message);
    } else this.suppressed++;
  }
}
