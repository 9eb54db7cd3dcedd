// Minimal typing for raw-socket@1.8 (plain JS package without bundled types).
// `wrap` is the native handle: we use it directly for a synchronous sendto (so the send
// timestamp is taken immediately before the syscall) and to read replies without the
// wrapper closing the socket on a transient recv error.
declare module 'raw-socket' {
  import { EventEmitter } from 'node:events';

  export interface SocketWrap extends EventEmitter {
    send(buffer: Buffer, offset: number, length: number, address: string, cb: (bytes: number) => void): SocketWrap;
    recv(buffer: Buffer, cb: (buffer: Buffer, bytes: number, source: string) => void): SocketWrap;
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
    pause(recvPaused: boolean, sendPaused: boolean): void;
    close(): SocketWrap;
  }

  export interface SocketOptions {
    protocol?: number;
    addressFamily?: number;
    bufferSize?: number;
  }

  export interface Socket extends EventEmitter {
    readonly wrap: SocketWrap;
    readonly buffer: Buffer;
    close(): Socket;
    setOption(level: number, option: number, value: number | Buffer, length?: number): void;
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      beforeCallback: (() => void) | ((error: Error | null, bytes: number) => void),
      afterCallback?: (error: Error | null, bytes: number) => void,
    ): Socket;
  }

  export const AddressFamily: { readonly IPv4: 1; readonly IPv6: 2 };
  export const Protocol: { readonly None: 0; readonly ICMP: 1; readonly TCP: 6; readonly UDP: 17; readonly ICMPv6: 58 };
  export const SocketLevel: Record<string, number>;
  export const SocketOption: Record<string, number>;

  export function createSocket(options?: SocketOptions): Socket;
  export function createChecksum(...buffers: Buffer[]): number;
  export function writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;

  const raw: {
    AddressFamily: typeof AddressFamily;
    Protocol: typeof Protocol;
    SocketLevel: typeof SocketLevel;
    SocketOption: typeof SocketOption;
    createSocket: typeof createSocket;
    createChecksum: typeof createChecksum;
    writeChecksum: typeof writeChecksum;
  };
  export default raw;
}
