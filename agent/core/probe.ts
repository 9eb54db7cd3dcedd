import type { AddressFamily, ProbeResult } from './result.js';

/** ICMP payload bounds: our cookie and serial need 16 bytes; 65507 fills an IPv4 datagram. */
export const ICMP_PAYLOAD = { min: 16, max: 65507 } as const;

/**
 * Decides, after every resolution, whether an address may be probed: null allows it, a
 * string says why not. Remote config carries one (the safety policy): a host name can
 * resolve to a refused address at any round, long after the config itself was checked.
 */
export type AddressGuard = (address: string, family: AddressFamily) => string | null;

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
  /** Checked against every resolved address before anything is sent; none for the operator's own config. */
  guard?: AddressGuard;
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
