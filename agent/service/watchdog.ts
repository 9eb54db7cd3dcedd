import type { Timers } from '../schedule/scheduler.js';
import type { Health } from './health.js';
import type { ServiceNotifier } from './sd-notify.js';

export interface WatchdogDeps {
  notifier: ServiceNotifier;
  /** WATCHDOG_USEC: systemd kills the service when no ping arrives for this long. */
  usec: number;
  /** Checked before every ping. */
  health: () => Health;
  timers: Timers;
}

/**
 * Sends WATCHDOG=1 every half of WatchdogSec (as sd_watchdog_enabled(3) advises), but only
 * while the agent is healthy: an unhealthy agent stays silent and systemd restarts it once
 * WatchdogSec has passed without a ping. A stalled process (SIGSTOP, a blocked event loop)
 * cannot run the timer at all, which is the same silence.
 */
export class Watchdog {
  readonly periodMs: number;
  private timer: { cancel(): void } | null = null;
  private livenessOnly = false;
  private pings = 0;
  private withheld = 0;

  constructor(private readonly deps: WatchdogDeps) {
    this.periodMs = Math.max(1, Math.floor(deps.usec / 2000));
  }

  /** Pings (if healthy) at once, then every periodMs until stop(). */
  start(): void {
    if (this.timer !== null) return;
    this.tick();
  }

  /**
   * From now on pings vouch for liveness only: a graceful stop has stopped the probe loop
   * on purpose, and TimeoutStopSec (not the watchdog) bounds how long it may take.
   */
  stopping(): void {
    this.livenessOnly = true;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  get counts(): { pings: number; withheld: number } {
    return { pings: this.pings, withheld: this.withheld };
  }

  private tick(): void {
    if (this.livenessOnly || this.deps.health().healthy) {
      this.deps.notifier.watchdog();
      this.pings++;
    } else {
      this.withheld++;
    }
    this.timer = this.deps.timers.setTimeout(() => this.tick(), this.periodMs);
  }
}
