// The update command end to end with the real agent and a real Mosquitto: the agent checks
// the command, writes the request, replies accepted, and sends the final reply when the
// updater's result appears, also after it was restarted meanwhile (as dpkg restarts it).
// The updater is the real one, run by the test where fleetprobe-update.path would start it
// (systemd is not PID 1 here), on the agent's real state directory, installing into a
// throwaway dpkg root from a signed apt repository (see fixtures.ts for what is injected).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Updater } from '../../agent/update/updater.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { AgentPool, controlConfig, ControlCloud, tempStateDir } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { AptRoot, buildDeb, buildRepo, REPO_ROOT, updaterDeps } from './fixtures.js';

const T = { timeout: 120_000 };
const DEVICE = 'pi-update';
const KEY_FILE = '/etc/fleetprobe/update-signing.pub';
const dirs: string[] = [];
const pool = new AgentPool();
const RUNNING = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
let broker: Mosquitto;
let cloud: ControlCloud;
let agent: AgentProcess;
let dir: string;
let root: AptRoot;
let work: string;

const config = (device = DEVICE, update: Record<string, unknown> = { public_key_file: KEY_FILE }): Record<string, unknown> =>
  controlConfig(dir, device, broker.url, { update, safety: { allow_cidrs: ['127.0.0.0/8'], max_commands_per_minute: 1000 } });

before(async () => {
  broker = await Mosquitto.start();
  cloud = await ControlCloud.connect(broker.url, DEVICE);
  dir = tempStateDir(dirs);
  work = tempStateDir(dirs);
  mkdirSync(join(work, 'debs'));
  const debs = ['1.0.0', '1.1.0'].map((v) => buildDeb(join(work, 'debs'), v)).concat(buildDeb(join(work, 'debs'), '1.2.0', 'silent'));
  root = new AptRoot(join(work, 'root'), buildRepo(work, debs));
  root.dpkgInstall(debs[0]!);
  agent = pool.start(dir, config());
  await cloud.waitState(() => true, 20_000, 'the first state');
});

after(async () => {
  await pool.killAll();
  await cloud?.close();
  await broker?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** What fleetprobe-update.service does when the path unit fires. */
const runUpdater = (): Promise<string> => new Updater(updaterDeps(root, join(dir, 'update'), join(work, 'updater'))).runOnce();
const requestFile = (): string => join(dir, 'update', 'request.json');
const sig = `${'A'.repeat(86)}==`;

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('update args are checked before anything is written', T, async () => {
  const url = { url: 'https://updates.example.net/fleetprobe_1.1.0_arm64.deb', sha256: 'a'.repeat(64), signature: sig };
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /^invalid args: expected \{version\} or \{url, sha256, signature\}$/],
    [{}, /^invalid args: expected \{version\}/],
    [{ version: '1.2' }, /^invalid args: args\.version: expected a version x\.y\.z/],
    [{ version: '1.2.3; reboot' }, /^invalid args: args\.version: expected a version/],
    [{ version: '1.02.3' }, /^invalid args: args\.version: expected a version/],
    [{ version: 1 }, /^invalid args: args\.version: /],
    [{ version: '1.1.0', force: true }, /^invalid args: args\.force: unknown key$/],
    [{ version: '1.1.0', ...url }, /^invalid args: args\.(url|sha256|signature): unknown key/],
    [{ version: RUNNING }, new RegExp(`^version ${RUNNING.replace(/\./g, '\\.')} is already running$`)],
    [{ ...url, url: 'http://updates.example.net/a.deb' }, /^invalid args: args\.url: must be https:\/\/$/],
    [{ ...url, url: 'https://u:p@updates.example.net/a.deb' }, /^invalid args: args\.url: must not carry credentials$/],
    [{ ...url, url: 'https://updates.example.net/a b.deb' }, /^invalid args: args\.url: must be printable ASCII without spaces$/],
    [{ ...url, sha256: 'abc' }, /^invalid args: args\.sha256: expected 64 lowercase hex digits$/],
    [{ ...url, signature: 'c2lnbmF0dXJl' }, /^invalid args: args\.signature: expected an Ed25519 signature/],
    [{ url: url.url }, /^invalid args: args\.sha256: .*; args\.signature: /],
  ];
  let i = 0;
  for (const [args, re] of cases) {
    const reply = await cloud.call({ id: `bad-${++i}`, command: 'update', ...(args === undefined ? {} : { args }) });
    assert.equal(reply.status, 'rejected', JSON.stringify(reply));
    assert.match(reply.error!, re);
  }
  assert.equal(existsSync(join(dir, 'update')), false, 'nothing was written');
});

test('URL updates are refused when no public key is pinned', T, async () => {
  const other = await ControlCloud.connect(broker.url, 'pi-nokey');
  const d = tempStateDir(dirs);
  const a = pool.start(d, controlConfig(d, 'pi-nokey', broker.url, {}));
  try {
    await other.waitState(() => true, 20_000, 'the first state');
    const reply = await other.call({ id: 'nk-1', command: 'update', args: { url: 'https://updates.example.net/a.deb', sha256: 'a'.repeat(64), signature: sig } });
    assert.deepEqual(reply, { id: 'nk-1', status: 'rejected', error: 'URL updates need a pinned public key: set update.public_key_file in the config file' });
    assert.equal(existsSync(join(d, 'update')), false);
  } finally {
    await a.stop();
    await other.close();
  }
});

test('accepted, then the final reply once the updater has installed the version', T, async () => {
  const accepted = await cloud.call({ id: 'up-1', command: 'update', args: { version: '1.1.0' } });
  assert.deepEqual(accepted, { id: 'up-1', status: 'accepted', result: { version: '1.1.0' } });
  const req = JSON.parse(readFileSync(requestFile(), 'utf8')) as Record<string, unknown>;
  assert.deepEqual({ ...req, requested_at: 'x' }, { format: 1, id: 'up-1', requested_at: 'x', version: '1.1.0' });
  // One update at a time; a duplicate of the command gets the stored reply.
  const second = await cloud.call({ id: 'up-2', command: 'update', args: { version: '1.2.0' } });
  assert.deepEqual(second, { id: 'up-2', status: 'rejected', error: 'update up-1 is still in progress' });
  await cloud.command({ id: 'up-1', command: 'update', args: { version: '1.1.0' } });
  await cloud.sub.waitFor(() => cloud.replies('up-1').length === 2, 5000, 'the stored accepted reply');
  assert.deepEqual(cloud.replies('up-1')[1], accepted);

  assert.equal(await runUpdater(), 'up-1');
  assert.equal(root.installedVersion(), '1.1.0');
  await cloud.sub.waitFor(() => cloud.replies('up-1').length === 3, 10_000, 'the final reply');
  const final = cloud.replies('up-1')[2]!;
  assert.deepEqual(final, { id: 'up-1', status: 'ok', result: { installed_version: '1.1.0', previous_version: '1.0.0', attempted_version: '1.1.0', rolled_back: false } });
  await agent.waitForLog(/control: update up-1 finished: version 1\.1\.0 installed/);
  // Both files are gone once the broker has the reply: the next update may come.
  await waitFor(() => readdirSync(join(dir, 'update')).length === 0, 'the result file removed');
  await cloud.command({ id: 'up-1', command: 'update', args: { version: '1.1.0' } });
  await cloud.sub.waitFor(() => cloud.replies('up-1').length === 4, 5000, 'the final reply again');
  assert.deepEqual(cloud.replies('up-1')[3], final);
});

test('the agent restarted during the update (as dpkg restarts it) still sends the final reply: a rollback', T, async () => {
  const accepted = await cloud.call({ id: 'up-3', command: 'update', args: { version: '1.2.0' } });
  assert.equal(accepted.status, 'accepted');
  assert.equal((await agent.stop()).code, 0);
  assert.equal(await runUpdater(), 'up-3');
  const states = cloud.states().length;
  agent = pool.start(dir, config());
  await cloud.waitState(() => cloud.states().length > states, 20_000, 'state after the restart');
  await cloud.sub.waitFor(() => cloud.replies('up-3').length === 2, 10_000, 'the final reply after the restart');
  const final = cloud.replies('up-3')[1]!;
  assert.equal(final.status, 'error');
  assert.match(final.error!, /^the agent 1\.2\.0 was not healthy within 4 s: .*; rolled back to 1\.1\.0$/);
  assert.deepEqual(final.result, { installed_version: '1.1.0', previous_version: '1.1.0', attempted_version: '1.2.0', rolled_back: true });
  assert.equal(root.installedVersion(), '1.1.0');
  assert.equal((await agent.stop()).code, 0, agent.output);
});

test('a result that comes while the broker is away is answered after it is back (the file stays until then)', T, async () => {
  const states = cloud.states().length;
  agent = pool.start(dir, config());
  await cloud.waitState(() => cloud.states().length > states, 20_000, 'state of the restarted agent');
  const accepted = await cloud.call({ id: 'up-4', command: 'update', args: { version: '1.0.0' } });
  assert.equal(accepted.status, 'accepted');
  await broker.stop();
  assert.equal(await runUpdater(), 'up-4');
  await agent.waitForLog(/control: update up-4 finished: version 1\.0\.0 installed/);
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(existsSync(join(dir, 'update', 'result.json')), 'kept while the reply is not acknowledged');
  await broker.relaunch();
  // The test's own subscriber does not reconnect: a new one (it may miss the reply itself,
  // which is why the file's removal is the proof: it goes only after the broker's PUBACK).
  await cloud.close();
  cloud = await ControlCloud.connect(broker.url, DEVICE);
  await waitFor(() => !existsSync(join(dir, 'update', 'result.json')), 'the final reply acknowledged by the broker', 60_000);
  const final = await cloud.call({ id: 'up-4', command: 'update', args: { version: '1.0.0' } });
  assert.deepEqual(final, { id: 'up-4', status: 'ok', result: { installed_version: '1.0.0', previous_version: '1.1.0', attempted_version: '1.0.0', rolled_back: false } });
  assert.equal((await agent.stop()).code, 0, agent.output);
});
