// The config and command controllers with test doubles around them: what is applied,
// persisted, answered and counted, without a broker or a prober.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandController } from '../../agent/control/command-controller.js';
import { commandHandlers } from '../../agent/control/commands.js';
import { ConfigController } from '../../agent/control/config-controller.js';
import { ControlState } from '../../agent/control/control-state.js';
import { resolveEffective } from '../../agent/control/effective-config.js';
import { LimitedLog } from '../../agent/control/limited-log.js';
import { SlidingWindowLimiter } from '../../agent/control/rate-limiter.js';
import { ReplySender } from '../../agent/control/reply-sender.js';
import { ReplyStore } from '../../agent/control/reply-store.js';
import { SafetyPolicy } from '../../agent/control/safety-policy.js';
import { safetySchema, type OperationalConfig } from '../../agent/config/schema.js';
import type { CommandReply } from '../../agent/core/control.js';
import type { OutboxStats } from '../../agent/core/outbox.js';
import type { AddressGuard } from '../../agent/core/probe.js';
import { FakeTransport, fakeInterfaces, LinesLogger, MemoryStore, ops } from '../helpers/control-fakes.js';

function rig(opts: { synced?: boolean; perMinute?: number; applyFails?: () => boolean } = {}) {
  const logger = new LinesLogger();
  const store = new MemoryStore();
  const replyStore = new MemoryStore();
  const applied: Array<{ ops: OperationalConfig; guard: AddressGuard | null }> = [];
  const policy = new SafetyPolicy(safetySchema.parse({ allow_cidrs: ['192.0.2.0/24'] }), fakeInterfaces);
  const fileOps = ops({ probes: [{ name: 'file', ip_address: '127.0.0.1' }] });
  const state = new ControlState({ fileOps, store, policy, apply: (o, guard) => {
    if (opts.applyFails?.()) throw new Error('scheduler refused');
    applied.push({ ops: o, guard });
  } }, resolveEffective(fileOps, { remote: null, monitoring: null }, policy));
  const refusals = new LimitedLog(logger, 1000);
  const configs = new ConfigController({ state, policy, logger, refusals });
  const transport = new FakeTransport();
  const sender = new ReplySender(transport, logger);
  sender.start();
  const probed: Array<readonly string[] | undefined> = [];
  let release: () => void = () => undefined;
  const gate = { hold: false };
  let restarts = 0;
  const uptime = { ms: 200_000 };
  const stats = { rows: 0, delivered_total: 0, dropped_total: 0, generated_total: 0 } as OutboxStats;
  const replies = new ReplyStore(replyStore, { logger, flushDelayMs: 10 });
  const commands = new CommandController({
    handlers: commandHandlers({
      state,
      probeNow: async (names) => {
        probed.push(names);
        if (gate.hold) await new Promise<void>((r) => (release = r));
        return (names ?? state.ops.probes.map((p) => p.name)).map((_, i) => 100 + i);
      },
      outbox: { stats: () => stats },
      drain: { start() {}, kick() {}, async stop() {} },
      requestRestart: () => restarts++,
      uptimeMs: () => uptime.ms,
      restartMinUptimeMs: 180_000,
    }),
    replies,
    limiter: new SlidingWindowLimiter(opts.perMinute ?? 100, 60_000),
    send: (r) => sender.send(r),
    state,
    clock: { synced: () => opts.synced ?? true },
    logger,
    refusals,
  });
  const sent = (): CommandReply[] => transport.events.filter((e) => e.subfolder === 'replies').map((e) => e.payload as CommandReply);
  const cmd = (env: unknown): Promise<void> => commands.handle(Buffer.from(typeof env === 'string' ? env : JSON.stringify(env)));
  const cfg = (doc: unknown): string => configs.handle(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
  return { uptime, logger, store, replyStore, applied, state, configs, transport, probed, gate, release: () => release(), restarts: () => restarts, replies, sent, cmd, cfg };
}

const remote = (version: number, extra: Record<string, unknown> = {}) => ({ version, probes: [{ name: `r${version}`, ip_address: '192.0.2.1' }], ...extra });

test('config: a valid newer version is persisted, then applied with the address guard; older and equal ones are ignored', () => {
  const r = rig();
  assert.equal(r.cfg(remote(2)), 'applied');
  assert.equal(r.applied.length, 1);
  assert.deepEqual(r.applied[0]!.ops.probes.map((p) => p.name), ['r2']);
  assert.equal(typeof r.applied[0]!.guard, 'function', 'remote probes are guarded');
  assert.equal(r.applied[0]!.guard!('127.0.0.1', 4), '127.0.0.1 is outside allow_cidrs');
  assert.equal((r.store.value.remote as { version: number }).version, 2);
  assert.equal(r.state.version, 2);
  assert.equal(r.state.source, 'remote');
  assert.equal(r.cfg(remote(2)), 'ignored');
  assert.equal(r.cfg(remote(1)), 'ignored');
  assert.equal(r.cfg(''), 'ignored', 'an empty message is no config');
  assert.equal(r.applied.length, 1);
  assert.equal(r.state.rejected, 0);
});

test('config: invalid or policy-breaking documents are rejected whole; nothing applied, nothing persisted', () => {
  const r = rig();
  r.cfg(remote(2));
  const writes = r.store.writes;
  assert.equal(r.cfg({ version: 3, probes: [{ name: 'a', ip_address: '192.0.2.1', size: 1 }] }), 'rejected');
  assert.deepEqual({ ...r.state.configError!, at: '' }, { version: 3, path: 'probes[0].size', reason: 'Too small: expected number to be >=16', at: '', problems: ['probes[0].size: Too small: expected number to be >=16'] });
  assert.equal(r.cfg(remote(4, { probes: [{ name: 'x', ip_address: '10.0.0.1' }, { name: 'y', ip_address: '224.0.0.9' }] })), 'rejected');
  assert.equal(r.state.configError!.reason, 'safety policy: 10.0.0.1 is outside allow_cidrs');
  assert.deepEqual(r.state.configError!.problems, ['probes[0].ip_address: safety policy: 10.0.0.1 is outside allow_cidrs', 'probes[1].ip_address: safety policy: 224.0.0.9 is a multicast address']);
  assert.equal(r.cfg('{"version": 5, "probes": ['), 'rejected');
  assert.equal(r.state.configError!.version, null);
  assert.equal(r.state.rejected, 3);
  assert.equal(r.store.writes, writes);
  assert.equal(r.applied.length, 1);
  assert.equal(r.state.version, 2);
  // A config that cannot be persisted is not applied either.
  r.store.failWrites = new Error('ENOSPC: no space left on device');
  assert.equal(r.cfg(remote(6)), 'rejected');
  assert.match(r.state.configError!.reason, /^cannot apply the config: ENOSPC/);
  assert.equal(r.applied.length, 1);
  assert.equal(r.state.version, 2);
  // A newer good one applies and clears the error.
  r.store.failWrites = null;
  assert.equal(r.cfg(remote(7)), 'applied');
  assert.equal(r.state.configError, null);
});

test('start/stop set monitoring and persist it; the latest of a command or a config wins', async () => {
  const r = rig();
  await r.cmd({ id: 's1', command: 'stop' });
  assert.deepEqual(r.sent().at(-1), { id: 's1', status: 'ok', result: { monitoring_enabled: false, changed: true } });
  assert.equal(r.applied.at(-1)!.ops.agent_operations.monitoring_enabled, false);
  assert.equal(r.applied.at(-1)!.guard, null, 'the file config is not guarded');
  assert.deepEqual(r.store.value.monitoring, { enabled: false, command_id: 's1', at: (r.store.value.monitoring as { at: string }).at });
  r.cfg(remote(3));
  assert.equal(r.state.ops.agent_operations.monitoring_enabled, true, 'the newer config wins');
  assert.equal(r.store.value.monitoring, null);
  await r.cmd({ id: 's2', command: 'stop' });
  assert.equal(r.state.ops.agent_operations.monitoring_enabled, false);
  assert.deepEqual(r.state.ops.probes.map((p) => p.name), ['r3']);
});

test('commands: one reply per id; a duplicate (also while the first still runs) gets the same reply and runs nothing', async () => {
  const r = rig();
  r.gate.hold = true;
  const first = r.cmd({ id: 'p1', command: 'probe-now', args: { names: ['file'] } });
  const dup = r.cmd({ id: 'p1', command: 'probe-now' });
  await new Promise((res) => setImmediate(res));
  assert.equal(r.probed.length, 1);
  r.release();
  await Promise.all([first, dup]);
  await r.cmd({ id: 'p1', command: 'stop' });
  assert.equal(r.probed.length, 1);
  const replies = r.sent();
  assert.equal(replies.length, 3);
  for (const x of replies) assert.deepEqual(x, { id: 'p1', status: 'ok', result: { probes: 1, results: 1, first_seq: 100, last_seq: 100 } });
  assert.equal(r.state.ops.agent_operations.monitoring_enabled, true, 'the duplicate "stop" did not run');
});

test('commands: rejected ones are answered and counted; no id means counted, logged, unanswered', async () => {
  const r = rig({ perMinute: 1 });
  await r.cmd({ id: 'u1', command: 'reboot' });
  await r.cmd({ id: 'e1', command: 'stop', expires_at: '2000-01-01T00:00:00Z' });
  await r.cmd({ id: 'a1', command: 'stop', args: { now: true } });
  await r.cmd({ id: 'ok1', command: 'probe-now' });
  await r.cmd({ id: 'rl1', command: 'probe-now' });
  await r.cmd('{"command":"stop"}');
  await r.cmd('\u0000');
  const byId = new Map(r.sent().map((x) => [x.id, x]));
  assert.equal(byId.size, 5);
  assert.equal(byId.get('u1')!.error, 'unknown command "reboot"');
  assert.equal(byId.get('e1')!.error, 'expired at 2000-01-01T00:00:00Z');
  assert.equal(byId.get('a1')!.error, 'invalid args: args.now: unknown key');
  assert.equal(byId.get('ok1')!.status, 'ok', 'bad commands did not use up the rate limit');
  assert.match(byId.get('rl1')!.error!, /^rate limit: at most 1 commands per 60 s \(next slot in 60 s\)$/);
  assert.equal(r.state.rejected, 6);
  assert.equal(r.logger.lines.filter((l) => l.includes('without a usable id')).length, 2);
});

test('commands: with the clock not synchronized, expiry is not enforced (and that is said once)', async () => {
  const r = rig({ synced: false });
  await r.cmd({ id: 'e1', command: 'stop', expires_at: '2000-01-01T00:00:00Z' });
  await r.cmd({ id: 'e2', command: 'start', expires_at: '2000-01-01T00:00:00Z' });
  assert.deepEqual(r.sent().map((x) => x.status), ['ok', 'ok']);
  assert.equal(r.logger.lines.filter((l) => l.includes('expiry is not enforced')).length, 1);
});

test('restart: the reply is stored durably, then published, then the restart is requested; replies offline wait for the connection', async () => {
  const r = rig();
  await r.cmd({ id: 'rs', command: 'restart' });
  assert.equal(r.restarts(), 1);
  assert.deepEqual((r.replyStore.value.replies as CommandReply[]).map((x) => x.id), ['rs']);
  assert.deepEqual(r.sent(), [{ id: 'rs', status: 'ok', result: { exit_code: 75 } }]);
  await r.cmd({ id: 'rs', command: 'restart' });
  assert.equal(r.restarts(), 1, 'a redelivered restart does not restart again');
  r.transport.connected = false;
  await r.cmd({ id: 'off', command: 'start' });
  assert.equal(r.sent().length, 2);
  r.transport.connected = true;
  r.transport.emit('connected');
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(r.sent().at(-1), { id: 'off', status: 'ok', result: { monitoring_enabled: true, changed: false } });
});

test('restart is refused in the first minutes after a start: restarts in a row would trip systemd\'s start limit', async () => {
  const r = rig();
  r.uptime.ms = 42_500;
  await r.cmd({ id: 'early', command: 'restart' });
  assert.deepEqual(r.sent(), [{ id: 'early', status: 'rejected', error: 'the agent started 42 s ago; restarts are refused for the first 180 s (safety.restart_min_uptime_s)' }]);
  assert.equal(r.restarts(), 0);
});

test('errors while running are "error" replies; a failed persist of start/stop changes nothing', async () => {
  const r = rig();
  r.store.failWrites = new Error('EROFS: read-only file system');
  await r.cmd({ id: 'st', command: 'stop' });
  assert.deepEqual(r.sent().at(-1), { id: 'st', status: 'error', error: 'EROFS: read-only file system' });
  assert.equal(r.state.ops.agent_operations.monitoring_enabled, true);
  assert.equal(r.applied.length, 0);
});

test('a config whose apply fails is rolled back: the previous one is persisted and applied again', () => {
  let fail = false;
  const r = rig({ applyFails: () => fail && !(fail = false) });
  r.cfg(remote(1));
  const persisted = structuredClone(r.store.value);
  fail = true;
  assert.equal(r.cfg(remote(2)), 'rejected');
  assert.equal(r.state.configError!.reason, 'cannot apply the config: scheduler refused');
  assert.equal(r.state.version, 1);
  assert.deepEqual(r.store.value, persisted);
  assert.deepEqual(r.applied.at(-1)!.ops.probes.map((p) => p.name), ['r1']);
});
