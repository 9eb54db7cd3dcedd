import type { AddressFamily, ProbeError } from '../../core/result.js';

// Messages between the agent and the engine child process (JSON over the IPC channel).

/** One target's packets for one round. */
export interface EchoJob {
  id: number;
  address: string;
  family: AddressFamily;
  count: number;
  size: number;
  interval_ms: number;
  timeout_ms: number;
  /** Delay of the first packet after the batch arrives, to pace many targets evenly. */
  offset_ms: number;
}

export interface EchoOutcome {
  id: number;
  sent: number;
  /** Per packet in send order, microseconds; null for lost (including late) packets. */
  rtts_us: (number | null)[];
  duplicates: number;
  late: number;
  ttl: number | null;
  errors: ProbeError[];
}

/** Counters of packets the engine saw and did not match, for diagnostics and tests. */
export interface EngineCounters {
  sent: number;
  matched: number;
  foreign: number;
  stray: number;
  ignored: number;
  bad_checksum: number;
  /** Replies timed with the kernel's receive timestamp, and with the user-space fallback. */
  kernel_stamps: number;
  user_stamps: number;
}

export type ToEngine = { t: 'jobs'; jobs: EchoJob[] } | { t: 'counters' } | { t: 'flush' } | { t: 'stop' };

export type FromEngine =
  | { t: 'ready'; identifier: number }
  | { t: 'outcome'; outcome: EchoOutcome }
  | { t: 'counters'; counters: EngineCounters }
  | { t: 'fatal'; privilege: boolean; message: string };
