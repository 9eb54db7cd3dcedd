/**
 * Rate limit by reservation: every caller takes a token now and learns how long to wait
 * for it, so concurrent publishes keep their order and the average rate never exceeds
 * `perSecond`, with bursts up to `burst`.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly nowMs: () => number,
  ) {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError(`bad token bucket ${perSecond}/s burst ${burst}`);
    this.tokens = burst;
    this.last = nowMs();
  }

  /** Takes one token; returns the ms to wait before using it (0 when one was available). */
  reserve(): number {
    const now = this.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond);
  }
}
