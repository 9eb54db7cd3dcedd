// Echo request parsing and echo reply construction for the responder. Kept free
// of socket code so it can be unit-tested with plain buffers.

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;
const IPPROTO_ICMP = 1;

/** RFC 1071 ones'-complement sum over `buf`. Written apart from the agent's on purpose: the
 * responder is test ground truth and must not share a bug with the code under test. */
export function internetChecksum(buf: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += ((buf[i] ?? 0) << 8) | (buf[i + 1] ?? 0);
  if (buf.length % 2 === 1) sum += (buf[buf.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4Echo {
  src: string;
  dst: string;
  /** ICMP message (header + payload), copied out of the receive buffer. */
  icmp: Buffer;
}

function ipv4At(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/**
 * Raw IPv4 sockets deliver the IP header too; returns null for anything but a
 * well-formed echo request. The copy matters: raw-socket reuses one receive
 * buffer, so a reply sent later would otherwise carry the next packet's bytes.
 */
export function parseIpv4EchoRequest(packet: Buffer): Ipv4Echo | null {
  if (packet.length < 20 || (packet[0] ?? 0) >> 4 !== 4) return null;
  const ihl = ((packet[0] ?? 0) & 0x0f) * 4;
  const total = Math.min(packet.readUInt16BE(2), packet.length);
  if (packet[9] !== IPPROTO_ICMP || ihl < 20 || total < ihl + 8) return null;
  const icmp = Buffer.from(packet.subarray(ihl, total));
  if (icmp[0] !== ICMP_ECHO_REQUEST || icmp[1] !== 0) return null;
  return { src: ipv4At(packet, 12), dst: ipv4At(packet, 16), icmp };
}

function writeIpv4(buf: Buffer, offset: number, addr: string): void {
  addr.split('.').forEach((octet, i) => buf.writeUInt8(Number(octet), offset + i));
}

/**
 * Full IPv4 packet for an IP_HDRINCL socket. We build the header ourselves so
 * the reply's source is the address that was pinged (a pool address), which
 * ping/fping use to match replies; the kernel would pick the veth address.
 * Total length, IP id and header checksum are filled in by the kernel.
 */
export function buildIpv4EchoReply(req: Ipv4Echo, ttl = 64): Buffer {
  const icmp = Buffer.from(req.icmp);
  icmp[0] = ICMP_ECHO_REPLY;
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + icmp.length, 2);
  ip[8] = ttl;
  ip[9] = IPPROTO_ICMP;
  writeIpv4(ip, 12, req.dst);
  writeIpv4(ip, 16, req.src);
  return Buffer.concat([ip, icmp]);
}

/**
 * ICMPv6 raw sockets deliver no IP header, and the kernel fills in the
 * checksum (it needs the pseudo-header), so only type and checksum are reset.
 */
export function buildIcmp6EchoReply(message: Buffer): Buffer | null {
  if (message.length < 8 || message[0] !== ICMP6_ECHO_REQUEST || message[1] !== 0) return null;
  const reply = Buffer.from(message);
  reply[0] = ICMP6_ECHO_REPLY;
  reply.writeUInt16BE(0, 2);
  return reply;
}
