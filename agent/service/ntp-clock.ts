import type { ClockStatus } from '../core/clock.js';

/**
 * The kernel's view (adjtimex, as timedatectl shows it), plus a floor: a clock earlier than
 * this build cannot be right, whatever the kernel says.
 */
export class NtpClock implements ClockStatus {
  constructor(
    private readonly kernelSynced: () => boolean,
    private readonly notBefore: Date,
    private readonly now: () => Date = () => new Date(),
  ) {}

  synced(): boolean {
    return this.now() >= this.notBefore && this.kernelSynced();
  }
}
