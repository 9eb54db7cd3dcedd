import { randomBytes } from 'node:crypto';
import { openRawChannel } from './channel.js';
import { IcmpEngine } from './engine.js';
import type { FromEngine, ToEngine } from './engine-protocol.js';

// Entry point of the engine child process (forked by EngineClient). raw-socket cannot run
// in worker_threads, and a separate process keeps the agent's event loop, GC and I/O
// away from the send and receive timestamps.

function post(msg: FromEngine): void {
  if (process.connected) process.send?.(msg);
}

function start(): void {
  // Like ping, the identifier comes from the pid: unique among the processes on this host.
  const identifier = process.pid & 0xffff;
  const engine = new IcmpEngine({
    openChannel: openRawChannel,
    identifier,
    cookie: randomBytes(8),
    onOutcome: (outcome) => post({ t: 'outcome', outcome }),
    onFatal: (err) => {
      post({ t: 'fatal', privilege: false, message: err.message });
      process.exit(70);
    },
  });
  try {
    engine.channel(4);
    engine.channel(6);
  } catch (err) {
    const e = err as Error;
    post({ t: 'fatal', privilege: e.name === 'PrivilegeError', message: e.message });
    process.disconnect?.();
    return;
  }
  process.on('message', (msg: ToEngine) => {
    if (msg.t === 'jobs') engine.submit(msg.jobs);
    else if (msg.t === 'flush') engine.flush();
    else if (msg.t === 'counters') post({ t: 'counters', counters: engine.counters });
    else if (msg.t === 'stop') {
      engine.close();
      process.disconnect?.();
    }
  });
  // Ctrl-C reaches the whole process group and systemd signals the whole cgroup: the agent
  // decides when rounds end (it flushes, then disconnects), so the engine ignores both.
  process.on('SIGINT', () => undefined).on('SIGTERM', () => undefined);
  // The agent went away: nothing left to report to.
  const leave = (): never => {
    engine.close();
    process.exit(0);
  };
  process.on('disconnect', leave);
  // A 'disconnect' that came while this module was still loading had no listener; and a
  // SIGKILLed agent must never leave an engine behind, so also watch for being orphaned.
  if (!process.connected) leave();
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) leave();
  }, 1000).unref();
  post({ t: 'ready', identifier });
}

start();
