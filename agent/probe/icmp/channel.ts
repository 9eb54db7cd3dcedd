import { endianness } from 'node:os';
import raw, { type Socket } from 'raw-socket';
import { PrivilegeError } from '../../core/probe.js';
import type { AddressFamily } from '../../core/result.js';
import { ICMP4, ICMP6 } from './packet.js';

// Linux socket option numbers raw-socket does not export.
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;
const RECV_BUFFER_BYTES = 4 << 20;

export type PacketHandler = (packet: Buffer, source: string, recvNs: bigint) => void;

export interface IcmpChannel {
  /** A synchronous sendto: the caller stamps the time immediately before this call. */
  send(packet: Buffer, address: string): void;
  close(): void;
}

export type ChannelFactory = (family: AddressFamily, onPacket: PacketHandler, onFatal: (err: Error) => void) => IcmpChannel;

function writeMask(words: number[]): Buffer {
  const buf = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => (endianness() === 'LE' ? buf.writeUInt32LE(w >>> 0, i * 4) : buf.writeUInt32BE(w >>> 0, i * 4)));
  return buf;
}

/** Kernel-side filter (a set bit blocks a type): only replies and errors reach user space. */
function installFilter(socket: Socket, family: AddressFamily): void {
  if (family === 4) {
    const pass = (1 << ICMP4.ECHO_REPLY) | (1 << ICMP4.DEST_UNREACH) | (1 << ICMP4.TIME_EXCEEDED);
    socket.setOption(SOL_RAW, ICMP_FILTER, writeMask([~pass]), 4);
    return;
  }
  const words = Array<number>(8).fill(0xffffffff);
  for (const t of [ICMP6.ECHO_REPLY, ICMP6.DEST_UNREACH, ICMP6.PACKET_TOO_BIG, ICMP6.TIME_EXCEEDED]) {
    words[t >> 5] = (words[t >> 5]! & ~(1 << (t & 31))) >>> 0;
  }
  socket.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, writeMask(words), 32);
}

function isPrivilegeError(err: unknown): boolean {
  return err instanceof Error && /not permitted|permission denied/i.test(err.message);
}

export const openRawChannel: ChannelFactory = (family, onPacket, onFatal) => {
  let socket: Socket;
  try {
    socket = raw.createSocket({
      protocol: family === 4 ? raw.Protocol.ICMP : raw.Protocol.ICMPv6,
      addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
      bufferSize: 70_000,
    });
  } catch (err) {
    if (isPrivilegeError(err)) throw new PrivilegeError('raw ICMP sockets need CAP_NET_RAW: run as root or as the packaged service');
    throw err;
  }
  installFilter(socket, family);
  try {
    socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES);
  } catch {
    socket.setOption(SOL_SOCKET, SO_RCVBUF, RECV_BUFFER_BYTES);
  }
  const { wrap, buffer } = socket;
  // Replace the wrapper's reader: it closes the socket on any recv error (even EAGAIN),
  // and stamping before recvfrom is the earliest user-space point after the wakeup.
  wrap.removeAllListeners('recvReady');
  wrap.on('recvReady', () => {
    const recvNs = process.hrtime.bigint();
    try {
      wrap.recv(buffer, (buf, bytes, source) => onPacket(buf.subarray(0, bytes), source, recvNs));
    } catch (err) {
      if (!(err instanceof Error && /temporarily unavailable|interrupted/i.test(err.message))) onFatal(err as Error);
    }
  });
  socket.on('error', (err: Error) => onFatal(err));
  return {
    send(packet, address) {
      wrap.send(packet, 0, packet.length, address, () => undefined);
    },
    close() {
      socket.close();
    },
  };
};
