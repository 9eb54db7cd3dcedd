/**
 * At most `max` events in any window of `windowMs` (a sliding log, exact where a token
 * bucket would allow a burst at the window's edge). Time is monotonic milliseconds.
 */
export class SlidingWindowLimiter {
  private readonly hits: number[] = [];

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(max >= 1) || !(windowMs > 0)) throw new RangeError('max must be >= 1 and windowMs > 0');
  }

  /** Takes a slot when one is free: true means go ahead. */
  tryTake(): boolean {
    const t = this.now();
    this.expire(t);
    if (this.hits.length >= this.max) return false;
    this.hits.push(t);
    return true;
  }

  /** Milliseconds until a slot frees (0 when one is free now). */
  retryAfterMs(): number {
    const t = this.now();
    this.expire(t);
    return this.hits.length < this.max ? 0 : Math.max(0, this.hits[0]! + this.windowMs - t);
  }

  private expire(t: number): void {
    while (this.hits.length > 0 && this.hits[0]! <= t - this.windowMs) this.hits.shift();
  }
}
