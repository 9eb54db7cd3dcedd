// Standalone ICMP echo responder, run inside a far namespace:
//   ip netns exec NS node dist/test/helpers/responder.js \
//     --delay-ms D --jitter-ms J --dup N [--family 4|6] [--spin-ms S] [--exit-on-stdin-close]
// Answers echo requests after D ± J ms (uniform), sending N extra copies of each
// reply. The kernel must be told to stay quiet (TestNet.ignoreEcho(true)),
// otherwise every request gets a second, immediate reply.
// Prints "ready" once the sockets are open; on SIGTERM prints one JSON line
// with counters and exits 0.
import raw, { type Socket } from 'raw-socket';
import { parseArgs } from 'node:util';
import { buildIcmp6EchoReply, buildIpv4EchoReply, parseIpv4EchoRequest } from './icmp-packet.js';

// Linux values; raw-socket's exported tables are typed loosely and lack SO_RCVBUFFORCE.
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const IPPROTO_IP = 0;
const IP_HDRINCL = 3;
const RCVBUF_BYTES = 4 * 1024 * 1024;

interface Config {
  delayMs: number;
  jitterMs: number;
  dup: number;
  families: (4 | 6)[];
  spinMs: number;
  exitOnStdinClose: boolean;
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${value}"`);
  return n;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      'delay-ms': { type: 'string' },
      'jitter-ms': { type: 'string' },
      dup: { type: 'string' },
      family: { type: 'string' },
      'spin-ms': { type: 'string' },
      'exit-on-stdin-close': { type: 'boolean' },
    },
  });
  const family = values.family;
  if (family !== undefined && family !== '4' && family !== '6') throw new Error(`--family must be 4 or 6, got "${family}"`);
  const dup = numberOption(values.dup, 'dup', 0);
  if (!Number.isInteger(dup)) throw new Error('--dup must be an integer');
  return {
    delayMs: numberOption(values['delay-ms'], 'delay-ms', 0),
    jitterMs: numberOption(values['jitter-ms'], 'jitter-ms', 0),
    dup,
    families: family === undefined ? [4, 6] : [family === '4' ? 4 : 6],
    // setTimeout may fire about 1 ms early or late; the last stretch is waited out
    // with setImmediate polling against the monotonic clock.
    spinMs: numberOption(values['spin-ms'], 'spin-ms', 1.5),
    exitOnStdinClose: values['exit-on-stdin-close'] ?? false,
  };
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function spinUntil(dueMs: number, fn: () => void): void {
  if (nowMs() >= dueMs) fn();
  else setImmediate(spinUntil, dueMs, fn);
}

function at(dueMs: number, spinMs: number, fn: () => void): void {
  const wait = dueMs - nowMs();
  if (wait <= 0) fn();
  else if (wait > spinMs) setTimeout(spinUntil, wait - spinMs, dueMs, fn);
  else spinUntil(dueMs, fn);
}

const stats = { requests: 0, replies: 0, sendErrors: 0 };

function sendCopies(socket: Socket, packet: Buffer, to: string, copies: number): void {
  for (let i = 0; i < copies; i++) {
    try {
      // The native send is a direct sendto(), so the reply leaves exactly when due
      // rather than on the wrapper's next writable event.
      socket.wrap.send(packet, 0, packet.length, to, () => undefined);
      stats.replies++;
    } catch (e) {
      stats.sendErrors++;
      if (stats.sendErrors <= 5) process.stderr.write(`responder: send to ${to} failed: ${(e as Error).message}\n`);
    }
  }
}

function openSocket(family: 4 | 6, cfg: Config): Socket {
  const socket =
    family === 4
      ? raw.createSocket({ protocol: raw.Protocol.ICMP, bufferSize: 65_535 })
      : raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6, bufferSize: 65_535 });
  try {
    socket.setOption(SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES);
  } catch {
    // Not fatal: only matters for large bursts (fping over thousands of targets).
  }
  if (family === 4) socket.setOption(IPPROTO_IP, IP_HDRINCL, 1);
  socket.on('message', (packet: Buffer, source: string) => {
    const receivedMs = nowMs();
    let reply: Buffer | null;
    let to = source;
    if (family === 4) {
      const req = parseIpv4EchoRequest(packet);
      reply = req && buildIpv4EchoReply(req);
      if (req) to = req.src;
    } else {
      // IPv6 replies leave from the kernel-chosen source (hostAddr6): the socket
      // API we have exposes neither the request's destination nor IPV6_PKTINFO.
      reply = buildIcmp6EchoReply(packet);
    }
    if (!reply) return;
    stats.requests++;
    const delay = Math.max(0, cfg.delayMs + (Math.random() * 2 - 1) * cfg.jitterMs);
    const frozen = reply;
    at(receivedMs + delay, cfg.spinMs, () => sendCopies(socket, frozen, to, 1 + cfg.dup));
  });
  socket.on('error', (e: Error) => {
    process.stderr.write(`responder: IPv${family} socket error: ${e.message}\n`);
    process.exit(1);
  });
  return socket;
}

/**
 * The first replies were up to 5 ms late while V8 compiled the hot path; run it
 * on a synthetic request before announcing "ready" so measurements start warm.
 */
async function warmUp(spinMs: number): Promise<void> {
  const request = Buffer.alloc(84);
  request[0] = 0x45;
  request.writeUInt16BE(84, 2);
  request[9] = 1;
  request[20] = 8;
  for (let i = 0; i < 2000; i++) {
    const req = parseIpv4EchoRequest(request);
    if (req) buildIpv4EchoReply(req);
    buildIcmp6EchoReply(request.subarray(20));
  }
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => at(nowMs() + 1 + spinMs, spinMs, resolve));
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = parseConfig(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`responder: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const sockets = cfg.families.map((f) => openSocket(f, cfg));
  const shutdown = (): void => {
    for (const s of sockets) s.close();
    process.stdout.write(`${JSON.stringify(stats)}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  if (cfg.exitOnStdinClose) {
    // Our parent died: do not linger in (and pin) a namespace nobody will clean.
    process.stdin.on('end', shutdown);
    process.stdin.resume();
  }
  await warmUp(cfg.spinMs);
  process.stdout.write('ready\n');
}

void main();
