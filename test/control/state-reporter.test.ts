import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlState } from '../../agent/control/control-state.js';
import { resolveEffective } from '../../agent/control/effective-config.js';
import { SafetyPolicy } from '../../agent/control/safety-policy.js';
import { StateBuilder } from '../../agent/control/state.js';
import { StateReporter } from '../../agent/control/state-reporter.js';
import { formatStatus } from '../../agent/control/status-output.js';
import { safetySchema } from '../../agent/config/schema.js';
import { agentStateSchema, type AgentState } from '../../agent/core/control.js';
import type { OutboxStats } from '../../agent/core/outbox.js';
import { FakeTransport, fakeInterfaces, LinesLogger, MemoryStore, ops } from '../helpers/control-fakes.js';
import { VirtualTimers } from '../unit/virtual-timers.js';

function rig(intervalS = 60) {
  const timers = new VirtualTimers();
  const policy = new SafetyPolicy(safetySchema.parse({}), fakeInterfaces);
  const fileOps = ops({ probes: [{ name: 'a', ip_address: '127.0.0.1' }, { name: 'b', ip_address: '::1' }] });
  const control = new ControlState({ fileOps, store: new MemoryStore(), policy, apply: () => undefined }, resolveEffective(fileOps, { remote: null, monitoring: null }, policy));
  const stats = { rows: 3, bytes: 900, oldest: '2026-01-01T00:00:00.000Z', dropped_total: 0, last_delivery: null } as unknown as OutboxStats;
  let skipped = 0;
  const builder = new StateBuilder({
    deviceId: 'pi-1', agentVersion: '9.9.9', control, outbox: { stats: () => stats }, skippedRounds: () => skipped,
    uplinkError: () => null, uptimeS: () => timers.now() / 1000, now: () => new Date(Date.UTC(2026, 0, 1) + timers.now()),
  });
  const transport = new FakeTransport();
  transport.connected = false;
  const file = new MemoryStore();
  const logger = new LinesLogger();
  const reporter = new StateReporter({ build: () => builder.build(), transport, statusFile: file, fileExtras: { pid: 42 }, intervalS, logger, timers });
  control.onChange(() => reporter.poke());
  return { logger, timers, control, stats, transport, file, reporter, skip: () => skipped++, published: () => transport.states as AgentState[] };
}

test('the state has every key, validates, and goes to the status file (with the pid)', () => {
  const r = rig();
  r.reporter.start();
  const s = agentStateSchema.parse(r.file.value);
  assert.deepEqual({ ...s, updated_at: '' }, {
    agent_version: '9.9.9', device: 'pi-1', config_version: null, config_source: 'file', config_error: null, monitoring_enabled: true, probes: 2,
    outbox: { rows: 3, bytes: 900, oldest: '2026-01-01T00:00:00.000Z' }, dropped_total: 0, last_delivery: null, last_error: null,
    uptime_s: 0, skipped_rounds: 0, rejected_messages: 0, updated_at: '',
  });
  assert.equal(r.file.value.pid, 42);
  assert.equal(r.published().length, 0, 'not connected: nothing published');
  r.reporter.stop();
});

test('published on connect, on every change at most once a second, and at least every interval', async () => {
  const r = rig(10);
  r.reporter.start();
  r.transport.connected = true;
  r.transport.emit('connected');
  await r.timers.advance(0);
  assert.equal(r.published().length, 0, 'the start snapshot was just written: the connect waits out the 1 s gap');
  await r.timers.advance(1000);
  assert.equal(r.published().length, 1);
  // A burst of changes: one state now-ish, the rest folded into the next second.
  for (let i = 0; i < 5; i++) r.control.countRejected();
  await r.timers.advance(999);
  assert.equal(r.published().length, 1);
  await r.timers.advance(1);
  assert.equal(r.published().length, 2);
  assert.equal(r.published()[1]!.rejected_messages, 5);
  // Nothing changes: the next one comes with the interval. (uptime and outbox do not count as changes.)
  r.stats.rows = 99;
  await r.timers.advance(8500);
  assert.equal(r.published().length, 2);
  await r.timers.advance(1500);
  assert.equal(r.published().length, 3);
  assert.equal(r.published()[2]!.outbox.rows, 99);
  // Changes nobody announces (skipped rounds) are noticed by the once-a-second look.
  r.skip();
  await r.timers.advance(2000);
  assert.equal(r.published().length, 4);
  assert.equal(r.published()[3]!.skipped_rounds, 1);
  const gaps = r.published().map((s) => Date.parse(s.updated_at)).map((t, i, a) => (i ? t - a[i - 1]! : 1000));
  assert.ok(gaps.every((g) => g >= 1000), `gaps ${gaps}`);
  r.reporter.stop();
  const written = r.file.writes;
  await r.timers.advance(60_000);
  assert.equal(r.file.writes, written, 'stopped');
});

test('a status file that cannot be written is reported once, and publishing goes on', async () => {
  const r = rig();
  r.file.failWrites = new Error('EROFS');
  r.transport.connected = true;
  r.reporter.start();
  r.control.countRejected();
  await r.timers.advance(3000);
  assert.equal(r.published().length, 2);
  assert.deepEqual(r.logger.lines, ['warn: control: cannot write /memory/store.json: EROFS']);
  r.reporter.stop();
});

test('status for people: one fact per line', () => {
  const s = agentStateSchema.parse({
    agent_version: '0.1.0', device: 'pi-7', config_version: 12, config_source: 'remote',
    config_error: { version: 13, path: 'probes[0].count', reason: 'Too big', at: '2026-01-01T00:00:00.000Z', problems: [] },
    monitoring_enabled: false, probes: 3, outbox: { rows: 2048, bytes: 1536, oldest: '2026-01-01T00:00:00.000Z' }, dropped_total: 4,
    last_delivery: null, last_error: { at: '2026-01-01T00:00:00.000Z', message: 'uplink: connection refused' }, uptime_s: 3725, skipped_rounds: 1,
    rejected_messages: 2, updated_at: '2026-01-01T00:00:05.000Z',
  });
  const text = formatStatus({ ...s, pid: 7 }, true, new Date('2026-01-01T00:00:07.000Z'));
  assert.match(text, /^agent:\s+fleetprobe 0\.1\.0, device pi-7, running \(pid 7\); status from 2s ago$/m);
  assert.match(text, /^monitoring:\s+disabled \(stopped\), 3 probe\(s\)$/m);
  assert.match(text, /^config:\s+remote, version 12$/m);
  assert.match(text, /^config error:\s+version 13: probes\[0\]\.count: Too big/m);
  assert.match(text, /^outbox:\s+2048 result\(s\), 1\.5 KiB, oldest 2026/m);
  assert.match(text, /^uptime:\s+1h 2m 5s$/m);
  assert.match(text, /^rejected messages: 2$/m);
});
