/**
 * Whether the system clock can be trusted. A Raspberry Pi has no real-time clock: until
 * NTP synchronizes it, the time can be years off, which breaks JWTs and timestamps.
 */
export interface ClockStatus {
  synced(): boolean;
}
