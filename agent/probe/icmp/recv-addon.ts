import { createRequire } from 'node:module';

/** The icmp_recv addon (native/icmp_recv.c): recvmsg with kernel timestamps on raw-socket's sockets. */
export interface IcmpRecvAddon {
  /** [fd, family] of every raw ICMP / ICMPv6 socket of this process. */
  rawIcmpSockets(): [number, 4 | 6][];
  enable(fd: number, family: 4 | 6): void;
  /** out[0] = seconds, out[1] = nanoseconds of CLOCK_REALTIME, the kernel timestamps' clock. */
  realtime(out: Float64Array): void;
  /** One non-blocking read: bytes, or -1 when empty. out = [family, hop limit|-1, rx s|-1, rx ns]. */
  recv(fd: number, buf: Buffer, src: Buffer, out: Float64Array): number;
}

// dist/agent/probe/icmp/ -> <package root>/agent/probe/icmp/native/build/Release/
const ADDON_PATH = '../../../../agent/probe/icmp/native/build/Release/icmp_recv.node';

export function loadRecvAddon(): IcmpRecvAddon {
  return createRequire(import.meta.url)(ADDON_PATH) as IcmpRecvAddon;
}
