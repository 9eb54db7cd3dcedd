import { createRequire } from 'node:module';

/** The fleetprobe_native addon (agent/native/fleetprobe_native.c). */
export interface NativeAddon {
  /** [fd, family] of every raw ICMP / ICMPv6 socket of this process. */
  rawIcmpSockets(): [number, 4 | 6][];
  enable(fd: number, family: 4 | 6): void;
  /** out[0] = seconds, out[1] = nanoseconds of CLOCK_REALTIME, the kernel timestamps' clock. */
  realtime(out: Float64Array): void;
  /** One non-blocking read: bytes, or -1 when empty. out = [family, hop limit|-1, rx s|-1, rx ns]. */
  recv(fd: number, buf: Buffer, src: Buffer, out: Float64Array): number;
  /** The kernel's NTP status, as timedatectl reads it. */
  ntpSynced(): boolean;
  /** Sends one sd_notify datagram to the socket path ('@' = abstract namespace). */
  notify(socketPath: string, message: string): void;
}

// dist/agent/native/ -> <package root>/agent/native/build/Release/
const ADDON_PATH = '../../../agent/native/build/Release/fleetprobe_native.node';

export function loadNativeAddon(): NativeAddon {
  return createRequire(import.meta.url)(ADDON_PATH) as NativeAddon;
}
