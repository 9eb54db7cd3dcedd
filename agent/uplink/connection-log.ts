import type { Logger } from '../core/logger.js';

/**
 * One log line per state change, not one per retry: a Pi offline for a week retries
 * thousands of times, and the journal should say "down since X, N attempts", not all of them.
 */
export class ConnectionLog {
  private failures = 0;
  private failingSince = 0;
  private lastWarnAt = 0;
  private lastReason = '';
  private waitingForClock = false;

  constructor(
    private readonly logger: Logger,
    private readonly endpoint: string,
    private readonly repeatEveryMs: number,
    private readonly nowMs: () => number,
  ) {}

  connected(clientId: string): void {
    const after = this.failures > 0 ? ` after ${this.failures} failed attempt${this.failures === 1 ? '' : 's'}` : '';
    this.logger.info(`uplink: connected to ${this.endpoint} as ${clientId}${after}`);
    this.failures = 0;
    this.lastReason = '';
  }

  disconnected(reason: string): void {
    this.logger.warn(`uplink: disconnected from ${this.endpoint}: ${reason}`);
  }

  failed(reason: string, retryInMs: number): void {
    const now = this.nowMs();
    if (this.failures === 0) this.failingSince = now;
    this.failures++;
    const next = `next attempt in ${(retryInMs / 1000).toFixed(1)} s`;
    if (this.failures === 1 || (reason !== this.lastReason && now - this.lastWarnAt >= this.repeatEveryMs / 10) || now - this.lastWarnAt >= this.repeatEveryMs) {
      const since = this.failures === 1 ? '' : ` (${this.failures} attempts over ${Math.round((now - this.failingSince) / 1000)} s)`;
      this.logger.warn(`uplink: cannot connect to ${this.endpoint}: ${reason}${since}; ${next}`);
      this.lastWarnAt = now;
      this.lastReason = reason;
    } else {
      this.logger.debug(`uplink: connect attempt ${this.failures} failed: ${reason}; ${next}`);
    }
  }

  /** Logged once per wait, however long NTP takes. */
  clockWait(why: string): void {
    if (this.waitingForClock) return;
    this.waitingForClock = true;
    this.logger.warn(`uplink: ${why}; waiting for the system clock to be NTP-synchronized before authenticating (the JWT needs the right time)`);
  }

  clockReady(): void {
    if (!this.waitingForClock) return;
    this.waitingForClock = false;
    this.logger.info('uplink: system clock synchronized; connecting');
  }
}
