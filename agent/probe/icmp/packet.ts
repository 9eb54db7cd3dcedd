import { ICMP_PAYLOAD } from '../../core/probe.js';
import type { AddressFamily } from '../../core/result.js';
import { formatAddress } from './address.js';

// Wire format of our echo requests: the 8-byte ICMP header, then the payload
//   [0..8)  cookie: random per engine process, so only our own replies match
//   [8..16) serial: a per-packet number, unique within the process
//   [16..)  filler pattern (as ping's), up to the requested size

export const COOKIE_BYTES = 8;
export const MIN_PAYLOAD = ICMP_PAYLOAD.min;

export const ICMP4 = { ECHO_REPLY: 0, DEST_UNREACH: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const ICMP6 = { DEST_UNREACH: 1, PACKET_TOO_BIG: 2, TIME_EXCEEDED: 3, ECHO_REQUEST: 128, ECHO_REPLY: 129 } as const;

/** Internet checksum (RFC 1071) over buf[start, end). Returns the 16-bit ones' complement. */
export function checksum(buf: Buffer, start = 0, end = buf.length): number {
  let sum = 0;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function buildEcho(family: AddressFamily, id: number, seq: number, cookie: Buffer, serial: number, size: number): Buffer {
  const pkt = Buffer.alloc(8 + size);
  pkt[0] = family === 4 ? ICMP4.ECHO_REQUEST : ICMP6.ECHO_REQUEST;
  pkt.writeUInt16BE(id, 4);
  pkt.writeUInt16BE(seq, 6);
  cookie.copy(pkt, 8, 0, COOKIE_BYTES);
  pkt.writeDoubleBE(serial, 8 + COOKIE_BYTES);
  for (let i = 8 + MIN_PAYLOAD; i < pkt.length; i++) pkt[i] = i & 0xff;
  // The kernel fills in the ICMPv6 checksum (it needs the pseudo-header we do not know).
  if (family === 4) pkt.writeUInt16BE(checksum(pkt), 2);
  return pkt;
}

/** An echo, quoted or returned: what identifies one of our packets. */
export interface EchoRef {
  id: number;
  seq: number;
  /** The payload bytes present (a router may quote only the ICMP header). */
  payload: Buffer;
}

export type Parsed =
  | { kind: 'reply'; echo: EchoRef; ttl: number | null }
  | { kind: 'error'; type: number; code: number; target: string; echo: EchoRef }
  | { kind: 'ignore'; reason: 'short' | 'checksum' | 'type' | 'quote' };

function echoAt(buf: Buffer, off: number): EchoRef {
  return { id: buf.readUInt16BE(off + 4), seq: buf.readUInt16BE(off + 6), payload: buf.subarray(off + 8) };
}

/** IPv4 raw sockets deliver the IP header: strip it, verify the ICMP checksum, classify. */
export function parseIcmp4(pkt: Buffer): Parsed {
  if (pkt.length < 20) return { kind: 'ignore', reason: 'short' };
  const ihl = (pkt[0]! & 0x0f) * 4;
  if (ihl < 20 || pkt.length < ihl + 8) return { kind: 'ignore', reason: 'short' };
  if (checksum(pkt, ihl) !== 0) return { kind: 'ignore', reason: 'checksum' };
  const type = pkt[ihl]!;
  if (type === ICMP4.ECHO_REPLY) return { kind: 'reply', echo: echoAt(pkt, ihl), ttl: pkt[8]! };
  if (type !== ICMP4.DEST_UNREACH && type !== ICMP4.TIME_EXCEEDED) return { kind: 'ignore', reason: 'type' };
  // The quote: the original IPv4 header, then at least 8 bytes of our echo request.
  const q = ihl + 8;
  if (pkt.length < q + 20) return { kind: 'ignore', reason: 'quote' };
  const qihl = (pkt[q]! & 0x0f) * 4;
  if (pkt[q + 9] !== 1 || pkt.length < q + qihl + 8 || pkt[q + qihl] !== ICMP4.ECHO_REQUEST) return { kind: 'ignore', reason: 'quote' };
  const target = formatAddress(pkt.subarray(q + 16, q + 20));
  return { kind: 'error', type, code: pkt[ihl + 1]!, target, echo: echoAt(pkt, q + qihl) };
}

/**
 * ICMPv6 raw sockets deliver no IP header, and the kernel has already verified the
 * checksum (it is mandatory for ICMPv6 raw sockets), so a corrupt packet never gets here.
 * The hop limit is not available: raw-socket reads with recvfrom, not recvmsg.
 */
export function parseIcmp6(pkt: Buffer): Parsed {
  if (pkt.length < 8) return { kind: 'ignore', reason: 'short' };
  const type = pkt[0]!;
  if (type === ICMP6.ECHO_REPLY) return { kind: 'reply', echo: echoAt(pkt, 0), ttl: null };
  if (type !== ICMP6.DEST_UNREACH && type !== ICMP6.TIME_EXCEEDED && type !== ICMP6.PACKET_TOO_BIG) {
    return { kind: 'ignore', reason: 'type' };
  }
  // The quote: the original 40-byte IPv6 header (extension headers are not expected on our
  // echoes), then our echo request.
  const q = 8;
  if (pkt.length < q + 40 + 8 || pkt[q + 6] !== 58 || pkt[q + 40] !== ICMP6.ECHO_REQUEST) return { kind: 'ignore', reason: 'quote' };
  const target = formatAddress(pkt.subarray(q + 24, q + 40));
  return { kind: 'error', type, code: pkt[1]!, target, echo: echoAt(pkt, q + 40) };
}

const UNREACH4: Record<number, string> = {
  0: 'Destination Net Unreachable', 1: 'Destination Host Unreachable', 2: 'Destination Protocol Unreachable',
  3: 'Destination Port Unreachable', 4: 'Fragmentation needed', 5: 'Source Route Failed',
  6: 'Destination Net Unknown', 7: 'Destination Host Unknown', 9: 'Destination Net Prohibited',
  10: 'Destination Host Prohibited', 13: 'Communication Administratively Prohibited',
};
const UNREACH6: Record<number, string> = {
  0: 'No route', 1: 'Administratively prohibited', 2: 'Beyond scope of source address',
  3: 'Address unreachable', 4: 'Port unreachable', 5: 'Source address failed policy', 6: 'Reject route',
};

/** Human text for an ICMP error, in iputils ping's words. */
export function describeIcmpError(family: AddressFamily, type: number, code: number): string {
  if (family === 4) {
    if (type === ICMP4.DEST_UNREACH) return UNREACH4[code] ?? `Destination Unreachable, code ${code}`;
    return code === 0 ? 'Time to live exceeded' : 'Frag reassembly time exceeded';
  }
  if (type === ICMP6.DEST_UNREACH) return `Destination unreachable: ${UNREACH6[code] ?? `code ${code}`}`;
  if (type === ICMP6.PACKET_TOO_BIG) return 'Packet too big';
  return code === 0 ? 'Time exceeded: Hop limit' : 'Time exceeded: Defragmentation failure';
}
