// The console as a privileged client of a real Mosquitto whose device passwords and ACLs are
// generated from the console's registry: registration, password auth, ACLs (Mosquitto's own
// enforcement of the generated acl_file), ingest with duplicates and gaps, config and
// commands, and the real agent applying a pushed config.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { mosquittoHash } from '../../console/auth/passwords.js';
import { AgentPool, controlConfig, loProbe } from '../helpers/control-cloud.js';
import { connectCode, deviceClient, ecKeyPair, result, startTestConsole, telemetry, waitUntil, type TestConsole } from './helpers.js';
import { RegistryMosquitto } from './mosquitto-registry.js';
import type { ConsoleInfo, DeviceBody, PushBody, RegisteredBody, ResultsBody, StreamsBody } from '../../console/api/types.js';
import type { CommandView } from '../../console/fleet/commands.js';

const CONSOLE_PASSWORD = 'console-password-for-tests';
let m: RegistryMosquitto;
let c: TestConsole;
const pw: Record<string, string> = {};
const clients: MqttClient[] = [];
const pool = new AgentPool();
const dirs: string[] = [];

before(async () => {
  // The operator's first files: just the console's own user; the console writes the rest.
  m = await RegistryMosquitto.start(`fleetprobe-console:${await mosquittoHash(CONSOLE_PASSWORD)}\n`, 'user fleetprobe-console\ntopic readwrite /devices/#\n');
  c = await startTestConsole({
    external_broker: { url: m.url, password: CONSOLE_PASSWORD, mosquitto_password_file: m.passwordFile, mosquitto_acl_file: m.aclFile },
  });
  await waitUntil('the console connected to mosquitto', 10_000, async () => (await c.api<ConsoleInfo>('GET', '/api/console')).body.broker.connected);
});

after(async () => {
  await pool.killAll();
  await Promise.all(clients.map((x) => x.endAsync(true).catch(() => undefined)));
  await c?.remove();
  await m?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const client = async (id: string): Promise<MqttClient> => {
  const x = await deviceClient(m.url, { clientId: id, username: id, password: pw[id]! });
  clients.push(x);
  return x;
};

test('registration writes Mosquitto password and ACL files; after a reload the devices log in, others do not', async () => {
  const r = await c.api<RegisteredBody>('POST', '/api/devices', { devices: [{ id: 'pi-a' }, { id: 'pi-b' }, { id: 'pi-agent' }, { id: 'pi-keyonly', public_keys: [ecKeyPair().publicPem] }] });
  assert.equal(r.status, 201);
  for (const d of r.body.registered) if (d.password) pw[d.id] = d.password;
  await waitUntil('files written', 5000, async () => readFileSync(m.passwordFile, 'utf8').includes('pi-agent:'));
  const passwd = readFileSync(m.passwordFile, 'utf8');
  assert.match(passwd, /^fleetprobe-console:\$7\$/m);
  assert.ok(!passwd.includes('pi-keyonly'), 'a key-only device cannot log in to Mosquitto');
  assert.ok(!passwd.includes(pw['pi-a']!), 'no clear password');
  assert.deepEqual(readFileSync(m.aclFile, 'utf8'), (await c.api<string>('GET', '/api/mosquitto/acl')).body);
  await m.reload();
  assert.equal(await connectCode(m.url, { clientId: 'pi-a', username: 'pi-a', password: pw['pi-a']! }), 0, m.log());
  assert.notEqual(await connectCode(m.url, { clientId: 'pi-a', username: 'pi-a', password: 'wrong-password-here' }), 0);
  assert.notEqual(await connectCode(m.url, { clientId: 'pi-x', username: 'pi-x', password: pw['pi-a']! }), 0);
  assert.notEqual(await connectCode(m.url, { clientId: 'anon' }), 0);
});

test("ACL (Mosquitto's): device A cannot read B's config or commands, nor write B's events", async () => {
  const a = await client('pi-a');
  const b = await client('pi-b');
  const gotA: string[] = [];
  const gotB: string[] = [];
  a.on('message', (t) => gotA.push(t));
  b.on('message', (t) => gotB.push(t));
  await a.subscribeAsync({ '/devices/pi-b/config': { qos: 1 }, '/devices/pi-b/commands/#': { qos: 1 }, '/devices/#': { qos: 1 } }).catch(() => undefined);
  await b.subscribeAsync({ '/devices/pi-b/config': { qos: 1 }, '/devices/pi-b/commands/#': { qos: 1 } });
  assert.equal((await c.api<PushBody>('PUT', '/api/devices/pi-b/config', { probes: [] })).status, 202);
  const cmd = await c.api<CommandView>('POST', '/api/devices/pi-b/commands', { command: 'drain' });
  await waitUntil('B got its config and command', 5000, async () => gotB.length >= 2);
  assert.deepEqual(gotB.sort(), ['/devices/pi-b/commands', '/devices/pi-b/config']);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(gotA, [], 'A saw nothing of B');

  // A writes B's events (dropped by Mosquitto), then its own (stored): only its own arrive.
  await a.publishAsync('/devices/pi-b/events', telemetry('pi-b', 's', [{ seq: 1, r: result('p', Date.now(), [1]) }]), { qos: 1 });
  await a.publishAsync('/devices/pi-a/events', telemetry('pi-a', 's', [{ seq: 1, r: result('p', Date.now(), [1]) }]), { qos: 1 });
  await waitUntil("A's own result stored", 5000, async () => (await c.api<StreamsBody>('GET', '/api/devices/pi-a/streams')).body.streams.length === 1);
  assert.deepEqual((await c.api<StreamsBody>('GET', '/api/devices/pi-b/streams')).body.streams, []);
  // B answers its command: the reply is kept.
  await b.publishAsync('/devices/pi-b/events/replies', JSON.stringify({ id: cmd.body.id, status: 'ok', result: { complete: true } }), { qos: 1 });
  const got = await c.api<CommandView>('GET', `/api/devices/pi-b/commands/${cmd.body.id}?wait=5`);
  assert.equal(got.body.status, 'ok');
  assert.deepEqual(got.body.reply?.result, { complete: true });
});

test('ingest through Mosquitto: redeliveries dropped, gaps recorded', async () => {
  const a = await client('pi-a');
  const t0 = Date.now() - 30_000;
  const msg = (seqs: number[]) => telemetry('pi-a', 'm-stream', seqs.map((seq) => ({ seq, r: result('lo', t0 + seq, [0.5]) })));
  for (const seqs of [[1, 2], [2, 3], [1, 2, 3], [6], [5]]) await a.publishAsync('/devices/pi-a/events', msg(seqs), { qos: 1 });
  const s = await waitUntil('6 seqs', 5000, async () => {
    const body = (await c.api<StreamsBody>('GET', '/api/devices/pi-a/streams')).body;
    const st = body.streams.find((x: { stream: string }) => x.stream === 'm-stream');
    return st && st.results === 5 && st.duplicates === 4 ? body : null;
  });
  assert.deepEqual(s.gaps.filter((g: { stream: string }) => g.stream === 'm-stream').map((g: { fromSeq: number; toSeq: number }) => [g.fromSeq, g.toSeq]), [[4, 4]]);
});

test('the real agent through Mosquitto: results stored, pushed config applied', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-console-mq-agent-'));
  dirs.push(dir);
  pool.start(dir, { ...controlConfig(dir, 'pi-agent', null), log_level: 'info', uplink: { profile: 'mqtt', url: m.url, username: 'pi-agent', password: pw['pi-agent'] } });
  await waitUntil('agent results', 20_000, async () => (await c.api<ResultsBody>('GET', '/api/devices/pi-agent/results?from=-5m')).body.results.length > 0);
  const dev = async () => (await c.api<DeviceBody>('GET', '/api/devices/pi-agent')).body.device;
  assert.equal((await dev()).online, true, 'online from its retained status topic');
  const push = await c.api<PushBody>('PUT', '/api/devices/pi-agent/config', { agent_operations: { probe_interval: 1 }, probes: [loProbe('via-mosquitto', '::1')] });
  assert.equal(push.body.published, true);
  await waitUntil('config applied', 20_000, async () => (await dev()).config.status === 'applied');
  await waitUntil('results of the new probe', 20_000, async () => (await c.api<ResultsBody>('GET', '/api/devices/pi-agent/results?target=via-mosquitto&from=-5m')).body.results.length > 0);
});

test('while the console is down Mosquitto keeps device messages for it (persistent session); nothing is lost', { timeout: 30_000 }, async () => {
  const a = await client('pi-a');
  await c.stop();
  const t0 = Date.now();
  await a.publishAsync('/devices/pi-a/events', telemetry('pi-a', 'offline-console', [1, 2, 3].map((seq) => ({ seq, r: result('lo', t0 + seq, [0.4]) }))), { qos: 1 });
  c = await startTestConsole({
    external_broker: { url: m.url, password: CONSOLE_PASSWORD, mosquitto_password_file: m.passwordFile, mosquitto_acl_file: m.aclFile },
  }, { dir: c.dir });
  const st = await waitUntil('the queued batch stored', 15_000, async () =>
    (await c.api<StreamsBody>('GET', '/api/devices/pi-a/streams')).body.streams.find((x: { stream: string }) => x.stream === 'offline-console'));
  assert.equal(st.results, 3);
});
