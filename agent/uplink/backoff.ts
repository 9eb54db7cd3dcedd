export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Uniform in [0, 1); injectable so tests can pin the jitter. */
  random: () => number;
}

/**
 * Capped exponential backoff with full jitter (AWS architecture blog): the n-th retry waits
 * a uniform random time in [0, min(max, min * 2^n)]. The randomness matters more than the
 * growth: after a broker outage a whole fleet would otherwise reconnect in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {
    if (!(opts.minMs > 0) || !(opts.maxMs >= opts.minMs)) throw new RangeError(`bad backoff bounds ${opts.minMs}..${opts.maxMs}`);
  }

  /** The ceiling the next delay is drawn under. */
  get ceilingMs(): number {
    // 2^attempt overflows to Infinity long after the cap binds; min() keeps it finite.
    return Math.min(this.opts.maxMs, this.opts.minMs * 2 ** this.attempt);
  }

  next(): number {
    const ceiling = this.ceilingMs;
    if (ceiling < this.opts.maxMs) this.attempt++;
    return Math.round(this.opts.random() * ceiling);
  }

  reset(): void {
    this.attempt = 0;
  }
}
