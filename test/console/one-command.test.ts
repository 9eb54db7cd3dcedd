// The README's one command: `npm start` builds and runs `fleetprobe-console serve --local-agent`.
// This runs that same command line (without the build, on free ports and a temp state dir) and
// checks what a newcomer gets: the URL and login printed, the local agent's results readable
// through the API within a minute, and the CLI working against it.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { freePort } from '../helpers/mosquitto.js';
import type { DeviceBody, ResultsBody } from '../../console/api/types.js';
import { waitUntil } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fp-console-start-'));
let child: ChildProcess | null = null;
const started: ChildProcess[] = [];

// A failed test must not leave a console (or its agent, which runs in its own process group)
// behind: SIGTERM (the console stops its agent), then SIGKILL for both.
after(async () => {
  for (const c of started) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
  try {
    const pid = (JSON.parse(readFileSync(join(dir, 'local-agent', 'status.json'), 'utf8')) as { pid?: number }).pid;
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    // no status file, or the agent is gone already
  }
  rmSync(dir, { recursive: true, force: true });
});

function startArgs(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const m = /^tsc -p tsconfig\.json && node (\S+) (.+)$/.exec(pkg.scripts.start);
  assert.ok(m, `npm start is "${pkg.scripts.start}"`);
  assert.equal(m[1], 'dist/console/bin/fleetprobe-console.js');
  return [join(ROOT, m[1]!), ...m[2]!.split(' ')];
}

// Asynchronous: a spawnSync would stall this process's event loop (and its kept-alive API
// connections, which the console then closes under it).
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'dist/console/bin/fleetprobe-console.js'), '--state-dir', dir, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function serve(): Promise<{ out: () => string; err: () => string; exited: Promise<number | null> }> {
  const [http, mqtt] = [await freePort(), await freePort()];
  const c = spawn(process.execPath, [...startArgs(), '--state-dir', dir, '--http-port', String(http), '--mqtt-port', String(mqtt)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } });
  child = c;
  started.push(c);
  let out = '';
  let err = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  await waitUntil(`the console's banner (stderr: ${err})`, 30_000, async () => /local agent:/.test(out) || c.exitCode !== null);
  return { out: () => out, err: () => err, exited };
}

test('one command: URL and login printed, the local agent results readable through the API within a minute; the CLI works', { timeout: 180_000 }, async () => {
  const s = await serve();
  const url = /API:\s+(http:\/\/127\.0\.0\.1:\d+)\/api\//.exec(s.out())?.[1];
  const token = /admin token (fpc_\S+)/.exec(s.out())?.[1];
  assert.ok(url && token, s.out());
  const get = async <T,>(path: string, t: string | null = token): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`, { headers: t ? { authorization: `Bearer ${t}` } : {} });
    return { status: res.status, body: (await res.json()) as T };
  };
  assert.equal((await get('/api/devices', null)).status, 401);
  const started = Date.now();
  const results = await waitUntil(`results of both loopback probes (log: ${s.err().slice(-2000)})`, 60_000, async () => {
    const r = (await get<ResultsBody>('/api/devices/local-agent/results?from=-10m')).body.results;
    return r.some((x) => x.name === 'loopback-v4') && r.some((x) => x.name === 'loopback-v6') ? r : null;
  });
  assert.ok(Date.now() - started < 60_000);
  for (const r of results) assert.equal(r.received, r.sent, JSON.stringify(r));
  const dev = (await get<DeviceBody>('/api/devices/local-agent')).body.device;
  assert.equal(dev.online, true);
  assert.equal(dev.agent_version, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);

  // The CLI on the same machine finds URL and token in the state directory.
  const list = await cli(['devices', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^local-agent\s+yes\s+/m);
  const probe = await cli(['command', 'local-agent', 'probe-now', '--args', '{"names":["loopback-v6"]}', '--wait', '20']);
  assert.equal(probe.code, 0, probe.stderr + probe.stdout);
  assert.equal(JSON.parse(probe.stdout).reply.result.results, 1);
  const cfgFile = join(dir, 'push.json');
  writeFileSync(cfgFile, JSON.stringify({ agent_operations: { probe_interval: 5 }, probes: [{ name: 'cli-lo', ip_address: '127.0.0.3', count: 3, interval_ms: 50 }] }));
  const push = await cli(['config', 'push', 'local-agent', cfgFile]);
  assert.equal(push.code, 0, push.stderr);
  assert.deepEqual(JSON.parse(push.stdout), { version: 1, published: true });
  await waitUntil('config applied', 20_000, async () => (await get<DeviceBody>('/api/devices/local-agent')).body.device.config.status === 'applied');
  writeFileSync(cfgFile, JSON.stringify({ probes: [{ name: 'x', ip_address: 'not an address' }] }));
  const bad = await cli(['config', 'push', 'local-agent', cfgFile]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^fleetprobe-console: 422: invalid config: probes\[0\]\.ip_address: /);
  assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  const wrong = await cli(['devices', 'list'], { FLEETPROBE_CONSOLE_TOKEN: 'fpc_wrong' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /401/);
  const usage = await cli(['devices', 'list', '--colour']);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr, "fleetprobe-console: Unknown option '--colour'\n");

  child!.kill('SIGTERM');
  assert.equal(await s.exited, 0, s.err().slice(-2000));
  assert.match(s.err(), /agent: SIGTERM: stopping/);
});

test('a second start does not print the token again; token reset makes a new one; a port in use is one clear line', { timeout: 120_000 }, async () => {
  const s = await serve();
  assert.doesNotMatch(s.out(), /fpc_/);
  assert.match(s.out(), /admin token created at first start/);
  const url = /API:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(s.out())![1]!;
  // The local agent got a new password at this start and delivers again.
  const token = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  const since = new Date().toISOString();
  await waitUntil(`new results after the restart (log: ${s.err().slice(-1500)})`, 60_000, async () => {
    const res = await fetch(`${url}/api/devices/local-agent/results?from=${since}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { results: unknown[] }).results.length > 0;
  });
  const port = Number(new URL(url).port);
  const clash = spawnSync(process.execPath, [...startArgs(), '--state-dir', join(dir, 'other'), '--http-port', String(port), '--mqtt-port', '0'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(clash.status, 2, clash.stderr);
  assert.match(clash.stderr, /^fleetprobe-console: port \d+ on 127\.0\.0\.1 is in use/);
  child!.kill('SIGTERM');
  assert.equal(await s.exited, 0);
  const old = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  const reset = await cli(['token', 'reset']);
  assert.equal(reset.code, 0, reset.stderr);
  const fresh = /new admin token: (fpc_\S+)/.exec(reset.stdout)![1]!;
  assert.notEqual(fresh, old);
  assert.equal(readFileSync(join(dir, 'admin-token'), 'utf8').trim(), fresh);
});

test('without CAP_NET_RAW the console runs and says in one line why the local agent cannot probe', { timeout: 60_000 }, async () => {
  // The same command as an unprivileged user with no capabilities (setpriv from util-linux).
  const state = mkdtempSync(join(tmpdir(), 'fp-console-nocap-'));
  spawnSync('chown', ['nobody', state]);
  const [http, mqtt] = [await freePort(), await freePort()];
  const c = spawn('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, ...startArgs(), '--state-dir', join(state, 's'), '--http-port', String(http), '--mqtt-port', String(mqtt)], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitUntil(`the CAP_NET_RAW message (output: ${out})`, 30_000, async () => /error: the local agent needs CAP_NET_RAW/.test(out));
    const res = await fetch(`http://127.0.0.1:${http}/api/devices`, { headers: { authorization: `Bearer ${/admin token (fpc_\S+)/.exec(out)![1]}` } });
    assert.equal(res.status, 200, 'the console keeps serving');
  } finally {
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
    rmSync(state, { recursive: true, force: true });
  }
});
