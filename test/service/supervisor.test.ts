// READY / STATUS / WATCHDOG / STOPPING as the supervisor sends them, on virtual time; and
// the status line's wording.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../agent/core/logger.js';
import type { Health } from '../../agent/service/health.js';
import type { ServiceNotifier } from '../../agent/service/sd-notify.js';
import { formatStatus, grouped, type StatusFacts } from '../../agent/service/status-line.js';
import { ServiceSupervisor, type UplinkView } from '../../agent/service/supervisor.js';
import { VirtualTimers } from '../unit/virtual-timers.js';

type Sent = [at: number, kind: 'ready' | 'status' | 'watchdog' | 'stopping', text: string];

class FakeNotifier implements ServiceNotifier {
  readonly sent: Sent[] = [];
  constructor(
    private readonly timers: VirtualTimers,
    readonly enabled = true,
  ) {}
  ready(s: string): void { this.sent.push([this.timers.now(), 'ready', s]); }
  status(s: string): void { this.sent.push([this.timers.now(), 'status', s]); }
  watchdog(): void { this.sent.push([this.timers.now(), 'watchdog', '']); }
  stopping(s: string): void { this.sent.push([this.timers.now(), 'stopping', s]); }
  times(kind: Sent[1]): number[] {
    return this.sent.filter((s) => s[1] === kind).map((s) => s[0]);
  }
}

class FakeUplink implements UplinkView {
  connected = false;
  private readonly listeners = new Set<() => void>();
  on(_e: 'connected' | 'disconnected', l: () => void): void { this.listeners.add(l); }
  off(_e: 'connected' | 'disconnected', l: () => void): void { this.listeners.delete(l); }
  set(up: boolean): void {
    this.connected = up;
    for (const l of this.listeners) l();
  }
  get listening(): number {
    return this.listeners.size;
  }
}

class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  debug(m: string): void { this.lines.push(`debug: ${m}`); }
  info(m: string): void { this.lines.push(`info: ${m}`); }
  warn(m: string): void { this.lines.push(`warn: ${m}`); }
  error(m: string): void { this.lines.push(`error: ${m}`); }
}

function rig(opts: { usec?: number | null; enabled?: boolean } = {}) {
  const timers = new VirtualTimers();
  const notifier = new FakeNotifier(timers, opts.enabled ?? true);
  const uplink = new FakeUplink();
  const logger = new MemoryLogger();
  const world = { health: { healthy: true, reason: null } as Health, buffered: 0, healthChecks: 0, factReads: 0 };
  const supervisor = new ServiceSupervisor({
    notifier,
    watchdogUsec: opts.usec === undefined ? 2_000_000 : opts.usec,
    health: { check: () => (world.healthChecks++, world.health) },
    facts: () => {
      world.factReads++;
      return { monitoring: true, probes: 2, buffered: world.buffered, uplink: uplink.connected ? 'connected' : 'disconnected', clockSynced: true };
    },
    uplink,
    logger,
    timers,
  });
  return { timers, notifier, uplink, logger, world, supervisor };
}

test('READY=1 with the first status, then WATCHDOG=1 at once and every half of WATCHDOG_USEC', async () => {
  const { timers, notifier, supervisor, logger } = rig();
  supervisor.ready();
  assert.deepEqual(notifier.sent[0], [0, 'ready', 'probing 2 targets, 0 results buffered, broker disconnected']);
  await timers.advance(10_000);
  assert.deepEqual(notifier.times('watchdog'), [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  assert.deepEqual(logger.lines, ['info: systemd: ready; watchdog ping every 1 s while healthy']);
  supervisor.close();
  await timers.advance(10_000);
  assert.equal(notifier.times('watchdog').length, 11, 'no pings after close()');
});

test('pings are withheld while unhealthy (logged once, shown in STATUS at once) and resume when healthy', async () => {
  const { timers, notifier, supervisor, logger, world } = rig();
  supervisor.ready();
  await timers.advance(2500);
  world.health = { healthy: false, reason: 'probe loop stalled: no probe round completed for 40 s (limit 13 s)' };
  await timers.advance(5000);
  world.health = { healthy: true, reason: null };
  await timers.advance(2600);
  assert.deepEqual(notifier.times('watchdog'), [0, 1000, 2000, 8000, 9000, 10_000]);
  assert.deepEqual(notifier.sent.filter((s) => s[1] === 'status'), [
    [3000, 'status', 'UNHEALTHY (probe loop stalled: no probe round completed for 40 s (limit 13 s)); probing 2 targets, 0 results buffered, broker disconnected'],
    [8000, 'status', 'probing 2 targets, 0 results buffered, broker disconnected'],
  ]);
  assert.deepEqual(logger.lines.slice(1), [
    'error: unhealthy: probe loop stalled: no probe round completed for 40 s (limit 13 s); withholding watchdog pings, systemd restarts the agent after WatchdogSec',
    'info: healthy again',
  ]);
  supervisor.close();
});

test('STATUS is recomputed every 5 s and sent only when it changed; a broker connect or disconnect sends it at once', async () => {
  const { timers, notifier, supervisor, uplink, world } = rig();
  supervisor.ready();
  await timers.advance(12_000);
  assert.equal(notifier.times('status').length, 0, 'nothing changed');
  world.buffered = 3204;
  await timers.advance(3000);
  uplink.set(true);
  await timers.advance(1);
  assert.deepEqual(notifier.sent.filter((s) => s[1] === 'status'), [
    [15_000, 'status', 'probing 2 targets, 3,204 results buffered, broker disconnected'],
    [15_000, 'status', 'probing 2 targets, 3,204 results buffered, broker connected'],
  ]);
  supervisor.close();
  assert.equal(uplink.listening, 0);
});

test('STOPPING=1 with its status; then pings vouch for liveness alone until close()', async () => {
  const { timers, notifier, supervisor, world, uplink } = rig();
  supervisor.ready();
  await timers.advance(1500);
  supervisor.stopping('stopping: finishing rounds in flight');
  assert.deepEqual(notifier.sent.at(-1), [1500, 'stopping', 'stopping: finishing rounds in flight']);
  assert.equal(uplink.listening, 0);
  // A graceful stop ends the probe loop on purpose; TimeoutStopSec bounds it, not the watchdog.
  world.health = { healthy: false, reason: 'probe loop stalled' };
  world.buffered = 99;
  await timers.advance(3000);
  assert.deepEqual(notifier.times('watchdog'), [0, 1000, 2000, 3000, 4000]);
  assert.equal(notifier.times('status').length, 0, 'no status after STOPPING');
  supervisor.stopping('again');
  assert.equal(notifier.times('stopping').length, 1);
  supervisor.close();
  await timers.advance(3000);
  assert.equal(notifier.times('watchdog').length, 5);
});

test('no WATCHDOG_USEC: READY and STATUS, never a ping', async () => {
  const { timers, notifier, supervisor, world, logger } = rig({ usec: null });
  supervisor.ready();
  world.buffered = 1;
  await timers.advance(60_000);
  assert.equal(notifier.times('watchdog').length, 0);
  assert.deepEqual(notifier.sent.map((s) => s[1]), ['ready', 'status']);
  assert.deepEqual(logger.lines, ['info: systemd: ready']);
  supervisor.close();
});

test('without NOTIFY_SOCKET nothing runs: no messages, no health checks, no timers', async () => {
  const { timers, notifier, supervisor, world, logger } = rig({ enabled: false });
  supervisor.ready();
  await timers.advance(60_000);
  supervisor.stopping('x');
  supervisor.close();
  assert.deepEqual(notifier.sent, []);
  assert.equal(world.healthChecks, 0);
  assert.equal(world.factReads, 0);
  assert.deepEqual(logger.lines, []);
});

test('the status line reads well', () => {
  const base: StatusFacts = { monitoring: true, probes: 12, buffered: 3204, uplink: 'connected', clockSynced: true, health: { healthy: true, reason: null } };
  assert.equal(formatStatus(base), 'probing 12 targets, 3,204 results buffered, broker connected');
  assert.equal(formatStatus({ ...base, probes: 1, buffered: 1, uplink: 'none' }), 'probing 1 target, 1 result buffered, no uplink');
  assert.equal(formatStatus({ ...base, monitoring: false, uplink: 'disconnected' }), 'monitoring disabled, 3,204 results buffered, broker disconnected');
  assert.equal(formatStatus({ ...base, probes: 0, buffered: null, clockSynced: false }), 'no probes configured, outbox unreadable, broker connected, clock not synchronized');
  assert.equal(formatStatus({ ...base, health: { healthy: false, reason: 'outbox not writable' } }), 'UNHEALTHY (outbox not writable); probing 12 targets, 3,204 results buffered, broker connected');
  assert.deepEqual([0, 7, 999, 1000, 1234567, 10_000_000].map(grouped), ['0', '7', '999', '1,000', '1,234,567', '10,000,000']);
});
