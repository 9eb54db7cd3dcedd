// What the agent was told survives restarts: the remote config (also while the broker is
// down), a stop command, and the local tools (`status`, `config show`) show where it came from.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type AgentProcess, FLEETPROBE_BIN } from '../helpers/agent-process.js';
import { AgentPool, controlConfig, ControlCloud, loProbe, remoteDoc, tempStateDir } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const dirs: string[] = [];
const pool = new AgentPool();
let broker: Mosquitto;
after(async () => {
  await pool.killAll();
  await broker?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
before(async () => {
  broker = await Mosquitto.start();
});

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [FLEETPROBE_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function json<T>(args: string[]): T {
  const r = cli(args);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as T;
}

interface Status { config_version: number | null; config_source: string; monitoring_enabled: boolean; probes: number; running: boolean; config_error: { version: number | null; reason: string } | null }
interface Show { sources: Record<string, string>; remote: { version: number } | null; effective: { probes: Array<{ name: string }>; agent_operations: { monitoring_enabled: boolean } } }

function commitsOf(agent: AgentProcess, name: string): number {
  return agent.output.match(new RegExp(`committed ${name}: seq`, 'g'))?.length ?? 0;
}

test('the remote config persists: a Pi that restarts while the broker is down comes up with it', { timeout: 90_000 }, async () => {
  const device = 'pi-persist';
  const dir = tempStateDir(dirs);
  const cloud = await ControlCloud.connect(broker.url, device);
  const config = controlConfig(dir, device, broker.url);
  const first = pool.start(dir, config);
  await cloud.pushConfig(remoteDoc(7, [loProbe('remote-a'), loProbe('remote-b', '::1')], { probe_interval: 1 }));
  await cloud.waitState((s) => s.config_version === 7, 15_000);
  await first.waitForLog(/committed remote-a: seq/);
  assert.equal((await first.stop()).code, 0, first.output);
  await cloud.clearConfig();
  await cloud.close();
  await broker.stop();

  const second = pool.start(dir, config);
  try {
    await second.waitForLog(/config from remote version 7/);
    await second.waitForLog(/committed remote-b: seq/);
    assert.equal(commitsOf(second, 'file-lo4'), 0, 'the file probe ran although a remote config was persisted');
    const file = join(dir, 'config.json');
    const status = json<Status>(['status', '--config', file, '--json']);
    assert.equal(status.config_version, 7);
    assert.equal(status.config_source, 'remote');
    assert.equal(status.probes, 2);
    assert.equal(status.running, true);
    const human = cli(['status', '--config', file]);
    assert.match(human.stdout, /config:\s+remote, version 7/);
    assert.match(human.stdout, /monitoring:\s+enabled, 2 probe\(s\)/);
    const show = json<Show>(['config', 'show', '--config', file, '--json']);
    assert.equal(show.remote?.version, 7);
    assert.deepEqual(show.effective.probes.map((p) => p.name), ['remote-a', 'remote-b']);
    assert.equal(show.sources.probes, 'remote');
    assert.equal(show.sources['agent_operations.probe_interval'], 'remote');
    assert.equal(show.sources['agent_operations.monitoring_enabled'], 'default');
    assert.equal(show.sources['log_level'], 'file');
    assert.equal(show.sources['safety.max_pps'], 'default');
    assert.equal(show.sources['safety.allow_cidrs'], 'file');
    const text = cli(['config', 'show', '--config', file]).stdout;
    assert.match(text, /^probes\s+= \[.*"remote-a".*\]\s+\(remote\)$/m);
    assert.match(text, /remote config version 7/);
  } finally {
    assert.equal((await second.stop()).code, 0, second.output);
    await broker.relaunch();
  }
  const stopped = json<Status>(['status', '--config', join(dir, 'config.json'), '--json']);
  assert.equal(stopped.running, false);
});

test('stop persists across restarts (connected, reporting state, not probing); a newer config or start resumes', { timeout: 90_000 }, async () => {
  const device = 'pi-stopped';
  const dir = tempStateDir(dirs);
  const cloud = await ControlCloud.connect(broker.url, device);
  const config = controlConfig(dir, device, broker.url);
  const first = pool.start(dir, config);
  await first.waitForLog(/committed file-lo4: seq/, 20_000);
  // Commands are not retained: a result can be committed before the agent has subscribed.
  await cloud.waitState(() => true, 15_000, 'the agent connected');
  const stop = await cloud.call({ id: 'stop-1', command: 'stop' });
  assert.deepEqual(stop, { id: 'stop-1', status: 'ok', result: { monitoring_enabled: false, changed: true } });
  await cloud.waitState((s) => !s.monitoring_enabled);
  assert.equal((await first.stop()).code, 0);

  const statesBefore = cloud.states().length;
  const second = pool.start(dir, config);
  try {
    const s = await cloud.waitState((x) => cloud.states().length > statesBefore && x.uptime_s < 5 && !x.monitoring_enabled, 15_000, 'state of the restarted agent');
    assert.equal(s.probes, 1);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(commitsOf(second, 'file-lo4'), 0, 'a stopped agent probed after its restart');
    const show = json<Show>(['config', 'show', '--config', join(dir, 'config.json'), '--json']);
    assert.equal(show.sources['agent_operations.monitoring_enabled'], 'command');
    assert.equal(show.effective.agent_operations.monitoring_enabled, false);
    // The latest wins: a config pushed after the stop enables monitoring again (its default)...
    await cloud.pushConfig(remoteDoc(1, [loProbe('after-stop')]));
    await cloud.waitState((x) => x.config_version === 1 && x.monitoring_enabled);
    await second.waitForLog(/committed after-stop: seq/);
    // ...and a stop after that config stops it, until a start.
    await cloud.call({ id: 'stop-2', command: 'stop' });
    await cloud.waitState((x) => x.config_version === 1 && !x.monitoring_enabled);
    const n = commitsOf(second, 'after-stop');
    await new Promise((r) => setTimeout(r, 2000));
    assert.ok(commitsOf(second, 'after-stop') <= n + 1, 'probing went on after stop'); // one round may be in flight
    const start = await cloud.call({ id: 'start-1', command: 'start' });
    assert.equal(start.status, 'ok');
    await cloud.waitState((x) => x.monitoring_enabled);
    await second.waitForLog(new RegExp(`(committed after-stop: seq[^]*){${n + 2}}`));
  } finally {
    assert.equal((await second.stop()).code, 0);
    await cloud.clearConfig();
    await cloud.close();
  }
});

test('a persisted config that the (tightened) local policy refuses is not used: the file applies, the reason is reported', { timeout: 90_000 }, async () => {
  const device = 'pi-tightened';
  const dir = tempStateDir(dirs);
  const cloud = await ControlCloud.connect(broker.url, device);
  const first = pool.start(dir, controlConfig(dir, device, broker.url));
  await cloud.waitState(() => true, 15_000, 'the agent connected'); // not retained: the agent must be listening
  await cloud.pushConfig(remoteDoc(3, [loProbe('remote-v4', '127.0.0.1')]), { retain: false });
  await cloud.waitState((s) => s.config_version === 3);
  assert.equal((await first.stop()).code, 0);
  const second = pool.start(dir, controlConfig(dir, device, broker.url, { safety: { allow_cidrs: ['::1/128'] } }));
  try {
    const s = await cloud.waitState((x) => x.config_error?.version === 3, 15_000);
    assert.equal(s.config_source, 'file');
    assert.equal(s.config_version, null);
    assert.match(s.config_error!.reason, /persisted config not applied: 127\.0\.0\.1 is outside allow_cidrs/);
    await second.waitForLog(/committed file-lo4: seq/);
  } finally {
    assert.equal((await second.stop()).code, 0);
    await cloud.close();
  }
});

test('a corrupt state file is moved aside: the agent starts with the file config', { timeout: 90_000 }, async () => {
  const dir = tempStateDir(dirs);
  writeFileSync(join(dir, 'remote-config.json'), '{"format": 1, "remote": {');
  writeFileSync(join(dir, 'command-replies.json'), '\0\0\0');
  const agent = pool.start(dir, controlConfig(dir, 'pi-corrupt', null));
  try {
    await agent.waitForLog(/committed file-lo4: seq/, 20_000);
    assert.match(agent.output, /remote-config\.json could not be read .*moved to/);
    assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 2, readdirSync(dir).join(' '));
  } finally {
    assert.equal((await agent.stop()).code, 0, agent.output);
  }
  const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as Status;
  assert.equal(status.config_source, 'file');
});

test('status without a status file: one line, exit 1', { timeout: 90_000 }, () => {
  const dir = tempStateDir(dirs);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ state_dir: dir }));
  const r = cli(['status', '--config', file]);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `fleetprobe: no status at ${dir}/status.json: the agent has not run with this state directory\n`);
});
