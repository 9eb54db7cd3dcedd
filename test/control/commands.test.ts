// Commands end to end: the real agent answers on /devices/{id}/events/replies, once per id.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { AgentProcess } from '../helpers/agent-process.js';
import { AgentPool, controlConfig, ControlCloud, loProbe, tempStateDir } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const T = { timeout: 90_000 };
const dirs: string[] = [];
const pool = new AgentPool();
let broker: Mosquitto;
let cloud: ControlCloud;
let agent: AgentProcess;
let dir: string;
const DEVICE = 'pi-commands';

// Probe "a" runs once at start, probe "b" would first run after 30 minutes: results of b
// come only from probe-now.
function config(): Record<string, unknown> {
  return controlConfig(dir, DEVICE, broker.url, {
    agent_operations: { probe_interval: 3600 },
    probes: [loProbe('a', '127.0.0.1'), loProbe('b', '::1')],
    safety: { allow_cidrs: ['127.0.0.0/8', '::1/128'], max_commands_per_minute: 1000, restart_min_uptime_s: 0 },
  });
}

before(async () => {
  broker = await Mosquitto.start();
  cloud = await ControlCloud.connect(broker.url, DEVICE);
  dir = tempStateDir(dirs);
  agent = pool.start(dir, config());
  await cloud.waitState(() => true, 20_000, 'the first state');
});

after(async () => {
  await pool.killAll();
  await cloud?.close();
  await broker?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const count = (name: string): number => cloud.results().filter((r) => r.name === name).length;

test('probe-now: the named probes run at once and their results are published', T, async () => {
  const sent = Date.now();
  const reply = await cloud.call({ id: 'pn-1', command: 'probe-now', args: { names: ['b'] } });
  assert.equal(reply.status, 'ok', JSON.stringify(reply));
  assert.deepEqual({ ...(reply.result as Record<string, unknown>), first_seq: 0, last_seq: 0 }, { probes: 1, results: 1, first_seq: 0, last_seq: 0 });
  const r = await cloud.waitResult((x) => x.name === 'b', 5000, 'the result of b');
  assert.ok(Date.parse(r.ts) >= sent - 50);
  assert.equal(r.received, 2);
  const all = await cloud.call({ id: 'pn-2', command: 'probe-now' });
  assert.equal((all.result as { results: number }).results, 2);
  await cloud.sub.waitFor(() => count('b') === 2 && count('a') >= 2, 5000, 'results of a and b');
  const unknown = await cloud.call({ id: 'pn-3', command: 'probe-now', args: { names: ['b', 'nope'] } });
  assert.deepEqual(unknown, { id: 'pn-3', status: 'rejected', error: 'unknown probe(s): nope' });
});

test('stop and start switch monitoring, answer with what changed', T, async () => {
  assert.deepEqual(await cloud.call({ id: 'st-1', command: 'stop' }), { id: 'st-1', status: 'ok', result: { monitoring_enabled: false, changed: true } });
  await cloud.waitState((s) => !s.monitoring_enabled);
  assert.deepEqual(await cloud.call({ id: 'st-2', command: 'stop', args: {} }), { id: 'st-2', status: 'ok', result: { monitoring_enabled: false, changed: false } });
  assert.deepEqual(await cloud.call({ id: 'st-3', command: 'start' }), { id: 'st-3', status: 'ok', result: { monitoring_enabled: true, changed: true } });
  await cloud.waitState((s) => s.monitoring_enabled);
});

test('drain flushes the outbox and says how far it got', T, async () => {
  const reply = await cloud.call({ id: 'dr-1', command: 'drain' });
  assert.equal(reply.status, 'ok', JSON.stringify(reply));
  const r = reply.result as { rows_before: number; rows_after: number; delivered: number; complete: boolean };
  assert.equal(r.complete, true);
  assert.equal(typeof r.rows_before, 'number');
  assert.equal(typeof r.delivered, 'number');
});

test('unknown commands, bad update args, bad args and bad envelopes are rejected with the reason', T, async () => {
  const rejectedBefore = cloud.states().at(-1)!.rejected_messages;
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ id: 'x-1', command: 'update', args: { version: '9.9' } }, /^invalid args: args\.version: expected a version x\.y\.z/],
    [{ id: 'x-2', command: 'reboot' }, /^unknown command "reboot"$/],
    [{ id: 'x-3', command: 'start', args: { force: true } }, /^invalid args: args\.force: unknown key$/],
    [{ id: 'x-4', command: 'probe-now', args: { names: 'b' } }, /^invalid args: args\.names: .*expected array/],
    [{ id: 'x-5', command: 'stop', when: 'now' }, /^when: unknown key$/],
    [{ id: 'x-6', command: 42 }, /^command: .*expected string/],
    [{ id: 'x-7', command: 'stop', expires_at: 'tomorrow' }, /^expires_at: /],
    [{ id: 'x-8', command: 'stop', args: { constructor: { prototype: {} } } }, /^forbidden key "constructor" at args$/],
  ];
  for (const [env, re] of cases) {
    const reply = await cloud.call(env as { id: string });
    assert.equal(reply.status, 'rejected', JSON.stringify(reply));
    assert.match(reply.error!, re);
  }
  const s = await cloud.waitState((x) => x.rejected_messages === rejectedBefore + cases.length);
  assert.equal(s.monitoring_enabled, true, 'none of them stopped monitoring');
});

test('messages without a usable id are logged and counted, never answered', T, async () => {
  const rejectedBefore = cloud.states().at(-1)!.rejected_messages;
  const repliesBefore = cloud.replies().length;
  for (const payload of ['not json', '{"command":"stop"}', '{"id":"","command":"stop"}', '{"id":"has space","command":"stop"}', '[1,2]', JSON.stringify({ id: 7, command: 'stop' })]) await cloud.command(payload);
  await cloud.waitState((x) => x.rejected_messages === rejectedBefore + 6);
  await cloud.call({ id: 'barrier-1', command: 'start' });
  assert.equal(cloud.replies().length, repliesBefore + 1);
  assert.match(agent.output, /command without a usable id dropped/);
});

test('expiry: a command past expires_at is rejected; one before it runs', T, async () => {
  const past = await cloud.call({ id: 'ex-1', command: 'stop', expires_at: new Date(Date.now() - 1000).toISOString() });
  assert.equal(past.status, 'rejected');
  assert.match(past.error!, /^expired at /);
  const future = await cloud.call({ id: 'ex-2', command: 'probe-now', args: { names: ['a'] }, expires_at: new Date(Date.now() + 60_000).toISOString() });
  assert.equal(future.status, 'ok');
});

test('idempotent by id: a duplicate gets the stored reply and runs nothing', T, async () => {
  const before = count('b');
  const first = await cloud.call({ id: 'dup-1', command: 'probe-now', args: { names: ['b'] } });
  await cloud.sub.waitFor(() => count('b') === before + 1, 5000, 'the result of dup-1');
  await cloud.command({ id: 'dup-1', command: 'probe-now', args: { names: ['b'] } });
  // Same id, different content: still the same command as far as the agent is concerned.
  await cloud.command({ id: 'dup-1', command: 'stop' });
  await cloud.sub.waitFor(() => cloud.replies('dup-1').length === 3, 5000, 'three replies to dup-1');
  for (const r of cloud.replies('dup-1')) assert.deepEqual(r, first);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(count('b'), before + 1, 'a duplicate ran again');
  assert.equal(cloud.states().at(-1)!.monitoring_enabled, true);
});

test('restart: exit 75 after the reply; a redelivered restart gets its stored reply and does not loop', T, async () => {
  const reply = await cloud.call({ id: 'rs-1', command: 'restart' });
  assert.deepEqual(reply, { id: 'rs-1', status: 'ok', result: { exit_code: 75 } });
  const exit = await agent.exited;
  assert.equal(exit.code, 75, agent.output);
  assert.match(agent.output, /restart command: stopping, exit status 75/);
  // systemd starts it again (Restart=on-failure).
  const states = cloud.states().length;
  agent = pool.start(dir, config());
  await cloud.waitState(() => cloud.states().length > states, 20_000, 'state after the restart');
  await cloud.command({ id: 'rs-1', command: 'restart' });
  await cloud.sub.waitFor(() => cloud.replies('rs-1').length === 2, 5000, 'the stored reply again');
  assert.deepEqual(cloud.replies('rs-1')[1], reply);
  // Replies from before the restart are persisted too.
  await cloud.command({ id: 'dup-1', command: 'probe-now' });
  await cloud.sub.waitFor(() => cloud.replies('dup-1').length === 4, 5000, 'dup-1 answered from the store');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(agent.output.match(/running as device/g)?.length, 1);
  assert.equal((await agent.stop()).code, 0, agent.output);
});

test('defaults: 10 commands a minute run, the rest are rejected with the reason; no restart in the first minutes', T, async () => {
  const rateDir = tempStateDir(dirs);
  const rateCloud = await ControlCloud.connect(broker.url, 'pi-rate');
  const rated = pool.start(rateDir, controlConfig(rateDir, 'pi-rate', broker.url));
  try {
    await rateCloud.waitState(() => true, 20_000, 'the first state');
    for (let i = 0; i < 12; i++) await rateCloud.command({ id: `r-${i}`, command: i % 2 ? 'start' : 'stop' });
    await rateCloud.sub.waitFor(() => rateCloud.replies().length === 12, 10_000, '12 replies');
    // Replies may overtake each other; the commands were taken in order.
    const replies = Array.from({ length: 12 }, (_, i) => rateCloud.replies(`r-${i}`)[0]!);
    assert.deepEqual(replies.map((r) => r.status), [...Array<string>(10).fill('ok'), 'rejected', 'rejected']);
    assert.match(replies[10]!.error!, /^rate limit: at most 10 commands per 60 s/);
    // Rejected ones are answered once too: the same id again gets the same rejection.
    await rateCloud.command({ id: 'r-11', command: 'start' });
    await rateCloud.sub.waitFor(() => rateCloud.replies('r-11').length === 2, 5000, 'r-11 again');
    assert.deepEqual(rateCloud.replies('r-11')[1], replies[11]);
    await rateCloud.waitState((s) => s.rejected_messages === 2);
    // With the default safety section, a restart right after start is refused (no restart loops).
    const early = await rateCloud.call({ id: 'early-restart', command: 'restart' });
    assert.equal(early.status, 'rejected');
    assert.match(early.error!, /restarts are refused for the first 180 s/);
    assert.equal(rated.pid > 0 && (await Promise.race([rated.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 500))])), 'running');
  } finally {
    assert.equal((await rated.stop()).code, 0, rated.output);
    await rateCloud.close();
  }
});
