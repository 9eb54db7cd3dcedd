import type { AddressFamily, ProbeResult } from './result.js';

/** ICMP payload bounds: our cookie and serial need 16 bytes; 65507 fills an IPv4 datagram. */
export const ICMP_PAYLOAD = { min: 16, max: 65507 } as const;

/** One ICMP target as the prober needs it; config and CLI both map onto this. */
export interface IcmpProbeSpec {
  name: string;
  /** IP literal or hostname, resolved at the start of every round. */
  target: string;
  /** Force an address family (ping's -4/-6); null lets the resolver choose. */
  family: AddressFamily | null;
  count: number;
  /** ICMP payload bytes, as ping's -s. */
  size: number;
  interval_ms: number;
  timeout_ms: number;
}

/**
 * Runs one round for a batch of targets: every target gets its packets, paced across the
 * round, and one result record. Implementations never throw for network trouble; that is
 * recorded in the result.
 */
export interface Prober {
  runRound(specs: readonly IcmpProbeSpec[], roundStart: Date): Promise<ProbeResult[]>;
  /** Ends rounds in flight now (like ping on Ctrl-C): their results report what came back. */
  flush(): void;
  close(): Promise<void>;
}

/** Thrown when the process lacks the privilege to open raw sockets. */
export class PrivilegeError extends Error {
  override readonly name = 'PrivilegeError';
}
