// `fleetprobe run` end to end: real config files, real SQLite outbox, real Mosquitto.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { probeResultSchema } from '../../agent/core/result.js';
import { readOutboxStats } from '../../agent/outbox/read-only.js';
import { AgentProcess, FLEETPROBE_BIN } from '../helpers/agent-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttSubscriber } from '../helpers/mqtt-subscriber.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fp-agent-'));
  dirs.push(d);
  return d;
}

function loopbackConfig(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device: { id: 'pi-e2e' },
    state_dir: dir,
    log_level: 'debug',
    agent_operations: { probe_interval: 1 },
    probes: [
      { name: 'lo4', ip_address: '127.0.0.1', count: 2, interval_ms: 50, timeout_ms: 500 },
      { name: 'lo6', ip_address: '::1', count: 2, interval_ms: 50, timeout_ms: 500 },
    ],
    ...extra,
  };
}

interface Telemetry {
  schema: number;
  device: string;
  stream: string;
  results: Array<Record<string, unknown> & { seq: number }>;
}

test('bad config: exit 78, one line per problem naming the JSON path, nothing created', () => {
  const dir = tempDir();
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ state_dir: dir, probes: [{ name: 'x', ip_address: '1.2.3.4', count: 'four' }], frobnicate: true }));
  const r = spawnSync(process.execPath, [FLEETPROBE_BIN, 'run', '--config', file], { encoding: 'utf8' });
  assert.equal(r.status, 78);
  assert.deepEqual(r.stderr.trim().split('\n').sort(), [
    `fleetprobe: ${file}: frobnicate: unknown key`,
    `fleetprobe: ${file}: probes[0].count: Invalid input: expected number, received string`,
  ]);
  assert.deepEqual(readdirSync(dir), ['config.json']);
  const check = spawnSync(process.execPath, [FLEETPROBE_BIN, 'config', 'check', file], { encoding: 'utf8' });
  assert.equal(check.status, 78);
});

test('read-only state directory: exit 73 with one line, nothing created', (t) => {
  const dir = tempDir();
  const state = join(dir, 'state');
  mkdirSync(state);
  // Root ignores permission bits: a read-only bind mount is what really stops root.
  execFileSync('mount', ['--bind', state, state]);
  t.after(() => execFileSync('umount', [state]));
  execFileSync('mount', ['-o', 'remount,ro,bind', state]);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(loopbackConfig(state)));
  const r = spawnSync(process.execPath, [FLEETPROBE_BIN, 'run', '--config', file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 73, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`^fleetprobe: outbox ${state}/outbox.db: .*read-only`));
  assert.deepEqual(readdirSync(state), []);
});

test('a corrupt outbox at start is moved aside and a new stream begins; probing goes on', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'outbox.db'), Buffer.alloc(64 * 1024, 0x5a));
  const agent = AgentProcess.start(dir, loopbackConfig(dir));
  await agent.waitForLog(/committed lo4: seq \d+/);
  assert.equal((await agent.stop()).code, 0, agent.output);
  assert.ok(readdirSync(dir).some((f) => /^outbox\.db\.corrupt-/.test(f)), readdirSync(dir).join(' '));
  assert.match(agent.output, /corrupt/i);
  const stats = readOutboxStats(join(dir, 'outbox.db'));
  assert.ok(stats.rows >= 1);
  assert.equal(stats.corrupt_total, 1);
});

test('results reach the broker with QoS 1 as telemetry batches; delivered rows are deleted; status online/offline', async (t) => {
  const broker = await Mosquitto.start();
  t.after(() => broker.remove());
  const sub = await MqttSubscriber.connect(broker.url, ['/devices/pi-e2e/#']);
  t.after(() => sub.close());
  const dir = tempDir();
  const agent = AgentProcess.start(dir, loopbackConfig(dir, { uplink: { profile: 'mqtt', url: broker.url } }));
  const got = await sub.waitForCount((m) => m.topic === '/devices/pi-e2e/events', 3, 15_000);
  await sub.waitFor((m) => m.topic === '/devices/pi-e2e/status' && m.payload.toString() === 'online');
  // Retained: a subscriber that arrives later is told at once.
  const late = await MqttSubscriber.connect(broker.url, ['/devices/pi-e2e/status']);
  const online = await late.waitFor((m) => m.payload.toString() === 'online');
  assert.equal(online.retain, true);
  await late.close();
  const stop = await agent.stop();
  assert.equal(stop.code, 0, agent.output);
  await sub.waitFor((m) => m.topic === '/devices/pi-e2e/status' && m.payload.toString() === 'offline');
  assert.equal(sub.on('/devices/pi-e2e/state').filter((m) => /online|offline/.test(m.payload.toString())).length, 0);
  const first = JSON.parse(got[0]!.payload.toString()) as Telemetry;
  assert.equal(first.schema, 1);
  assert.equal(first.device, 'pi-e2e');
  assert.match(first.stream, /^[0-9a-f]{16,}$/);
  for (const r of first.results) {
    const { seq, ...record } = r;
    assert.ok(Number.isInteger(seq) && seq >= 1);
    const rec = probeResultSchema.parse(record);
    assert.equal(rec.received, 2);
    assert.equal(rec.clock_synced === true || rec.clock_synced === false, true);
  }
  assert.ok(got.every((m) => m.qos === 1));
  // Everything committed was delivered and acknowledged: the outbox is empty.
  const stats = readOutboxStats(join(dir, 'outbox.db'));
  const delivered = new Set(sub.on('/devices/pi-e2e/events').flatMap((m) => (JSON.parse(m.payload.toString()) as Telemetry).results.map((r) => r.seq)));
  for (const s of agent.committedSeqs()) assert.ok(delivered.has(s) || stats.rows > 0, `seq ${s} neither delivered nor queued`);
  assert.equal(stats.rows, stats.generated_total - stats.delivered_total - stats.dropped_total);
  const db = new Database(join(dir, 'outbox.db'), { readonly: true });
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
  assert.ok(existsSync(join(dir, 'outbox.db')));
});

test('broker down for a while, then back: every result delivered once (after dedup), in order', async (t) => {
  const broker = await Mosquitto.start();
  t.after(() => broker.remove());
  const sub = await MqttSubscriber.connect(broker.url, ['/devices/pi-e2e/events']);
  const dir = tempDir();
  const agent = AgentProcess.start(dir, loopbackConfig(dir, { uplink: { profile: 'mqtt', url: broker.url } }));
  t.after(() => agent.stop());
  await sub.waitForCount(() => true, 1, 15_000);
  // Broker first: a result the broker acknowledged after this subscriber left would reach nobody.
  await broker.stop();
  await sub.close();
  await new Promise((r) => setTimeout(r, 4000)); // probing goes on, results buffer
  await broker.restart();
  const sub2 = await MqttSubscriber.connect(broker.url, ['/devices/pi-e2e/events']);
  t.after(() => sub2.close());
  // Reconnect backoff starts at 1 s and doubles (with jitter): allow for it.
  const before = agent.committedSeqs();
  const last = Math.max(...before);
  await sub2.waitFor((m) => (JSON.parse(m.payload.toString()) as Telemetry).results.some((r) => r.seq >= last), 60_000, `seq ${last}`);
  assert.equal((await agent.stop()).code, 0);
  const seqs = sub2.messages.flatMap((m) => (JSON.parse(m.payload.toString()) as Telemetry).results.map((r) => r.seq));
  const unique = [...new Set(seqs)];
  assert.deepEqual(unique, [...unique].sort((a, b) => a - b), 'in order');
  const stats = readOutboxStats(join(dir, 'outbox.db'));
  // Whatever was delivered before the outage plus after it covers every seq up to `last`.
  const all = new Set([...unique, ...sub.messages.flatMap((m) => (JSON.parse(m.payload.toString()) as Telemetry).results.map((r) => r.seq))]);
  for (let s = 1; s <= last; s++) assert.ok(all.has(s), `seq ${s} missing`);
  assert.equal(stats.dropped_total, 0);
});
