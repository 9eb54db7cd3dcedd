import type { Timers } from '../../agent/schedule/scheduler.js';

/**
 * A virtual monotonic clock for the scheduler's grid logic: deterministic, no sleeping.
 * (Stands in for time only; the real-timer test in scheduler.test.ts covers the real clock.)
 */
export class VirtualTimers implements Timers {
  private t = 0;
  private queue: { at: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    const entry = { at: this.t + ms, fn, live: true };
    this.queue.push(entry);
    return { cancel: () => void (entry.live = false) };
  }

  /** Advances time, firing due timers in order; `jitter` makes each fire late by that many ms. */
  async advance(ms: number, lateness = 0): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.queue = this.queue.filter((e) => e.live);
      this.queue.sort((a, b) => a.at - b.at);
      const next = this.queue[0];
      if (!next || next.at + lateness > end) break;
      this.queue.shift();
      this.t = Math.max(this.t, next.at + lateness);
      next.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
  }
}
