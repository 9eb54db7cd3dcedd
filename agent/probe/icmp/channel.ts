import { endianness } from 'node:os';
import raw, { type Socket } from 'raw-socket';
import { PrivilegeError } from '../../core/probe.js';
import type { AddressFamily } from '../../core/result.js';
import { ICMP4, ICMP6 } from './packet.js';
import { loadNativeAddon } from '../../native/addon.js';

// Linux socket option numbers raw-socket does not export.
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;
const RECV_BUFFER_BYTES = 4 << 20;
// Packets read per wakeup before yielding to timers (the kernel stamps keep their times).
const READ_BATCH = 64;

/** Send-time stamps, taken immediately before sendto, on both clocks. */
export interface TxStamp {
  hrNs: bigint;
  sec: number;
  nsec: number;
}

/** Receive-time facts; one object per channel, overwritten for every packet. */
export interface RxInfo {
  /** process.hrtime right after the read (the fallback when the kernel stamp is unusable). */
  hrNs: bigint;
  /** Kernel receive timestamp (CLOCK_REALTIME); sec is -1 when the kernel gave none. */
  sec: number;
  nsec: number;
  /** IPv6 hop limit, or -1. (IPv4's TTL is in the IP header.) */
  hop: number;
}

export type PacketHandler = (packet: Buffer, source: Buffer, rx: RxInfo) => void;

export interface IcmpChannel {
  send(packet: Buffer, address: string): TxStamp;
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

/**
 * A raw ICMP socket made and driven by raw-socket (creation, options, readiness, sendto),
 * read through our native addon (recvmsg) for kernel receive timestamps.
 */
export const openRawChannel: ChannelFactory = (family, onPacket, onFatal) => {
  const addon = loadNativeAddon();
  const before = new Set(addon.rawIcmpSockets().map(([fd]) => fd));
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
  const created = addon.rawIcmpSockets().filter(([fd, fam]) => fam === family && !before.has(fd));
  if (created.length !== 1) {
    socket.close();
    throw new Error(`cannot find the new raw IPv${family} socket (${created.length} candidates)`);
  }
  const fd = created[0]![0];
  addon.enable(fd, family);
  installFilter(socket, family);
  try {
    socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, RECV_BUFFER_BYTES);
  } catch {
    socket.setOption(SOL_SOCKET, SO_RCVBUF, RECV_BUFFER_BYTES);
  }
  const { wrap, buffer } = socket;
  const src = Buffer.alloc(16);
  const out = new Float64Array(4);
  const rx: RxInfo = { hrNs: 0n, sec: -1, nsec: 0, hop: -1 };
  const addrLen = family === 4 ? 4 : 16;
  // raw-socket's own reader uses recvfrom (no timestamps) and closes the socket on any recv
  // error; its readiness event drives ours instead.
  wrap.removeAllListeners('recvReady');
  wrap.on('recvReady', () => {
    try {
      for (let i = 0; i < READ_BATCH; i++) {
        const n = addon.recv(fd, buffer, src, out);
        if (n < 0) break;
        rx.hrNs = process.hrtime.bigint();
        rx.hop = out[1]!;
        rx.sec = out[2]!;
        rx.nsec = out[3]!;
        onPacket(buffer.subarray(0, n), src.subarray(0, addrLen), rx);
      }
    } catch (err) {
      onFatal(err as Error);
    }
  });
  socket.on('error', (err: Error) => onFatal(err));
  const tx = new Float64Array(2);
  return {
    send(packet, address) {
      const hrNs = process.hrtime.bigint();
      addon.realtime(tx);
      wrap.send(packet, 0, packet.length, address, () => undefined);
      return { hrNs, sec: tx[0]!, nsec: tx[1]! };
    },
    close() {
      socket.close();
    },
  };
};
