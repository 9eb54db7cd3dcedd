// The console and the real agent (`fleetprobe run`, raw sockets, loopback targets only)
// through the embedded broker: results readable through the API, config pushed from the API
// applied (and a config the agent's safety policy refuses reported back), commands answered.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AgentPool, controlConfig, loProbe } from '../helpers/control-cloud.js';
import { startTestConsole, waitUntil, type TestConsole } from './helpers.js';
import type { CommandsBody, ConfigBody, DeviceBody, PushBody, RegisteredBody, ResultsBody } from '../../console/api/types.js';
import type { CommandView } from '../../console/fleet/commands.js';

const DEVICE = 'pi-e2e';
let c: TestConsole;
let dir: string;
const pool = new AgentPool();

before(async () => {
  c = await startTestConsole();
  const reg = await c.api<RegisteredBody>('POST', '/api/devices', { id: DEVICE });
  assert.equal(reg.status, 201);
  dir = mkdtempSync(join(tmpdir(), 'fp-console-agent-'));
  const uplink = { profile: 'mqtt', url: c.mqttUrls[0], username: DEVICE, password: reg.body.registered[0]!.password };
  pool.start(dir, { ...controlConfig(dir, DEVICE, null), log_level: 'info', uplink });
});

after(async () => {
  await pool.killAll();
  await c?.remove();
  rmSync(dir, { recursive: true, force: true });
});

const device = async () => (await c.api<DeviceBody>('GET', `/api/devices/${DEVICE}`)).body.device;

test('the agent comes online and its results are readable through the API', { timeout: 60_000 }, async () => {
  await waitUntil('the agent online with a state', 20_000, async () => {
    const d = await device();
    return d.online === true && d.agent_version !== null;
  });
  const r = await waitUntil('results of file-lo4', 20_000, async () => {
    const res = (await c.api<ResultsBody>('GET', `/api/devices/${DEVICE}/results?target=file-lo4&from=-5m`)).body.results;
    return res.length >= 2 ? res : null;
  });
  assert.equal(r[0]!.received, 2);
  assert.equal(r[0]!.address, '127.0.0.1');
  const d = await device();
  assert.equal(d.config.source, 'file');
  assert.equal(d.config.status, 'none');
  assert.equal(d.monitoring_enabled, true);
});

test('a pushed config is applied by the agent and its version comes back in state', { timeout: 60_000 }, async () => {
  const push = await c.api<PushBody>('PUT', `/api/devices/${DEVICE}/config`, { agent_operations: { probe_interval: 1 }, probes: [loProbe('remote-lo4', '127.0.0.2'), loProbe('remote-lo6', '::1')] });
  assert.equal(push.status, 202, JSON.stringify(push.body));
  assert.deepEqual(push.body, { version: 1, published: true });
  await waitUntil('config version 1 applied', 20_000, async () => (await device()).config.status === 'applied');
  const d = await device();
  assert.equal(d.config.applied_version, 1);
  assert.equal(d.config.source, 'remote');
  assert.equal(d.probes, 2);
  await waitUntil('results of remote-lo6', 20_000, async () => (await c.api<ResultsBody>('GET', `/api/devices/${DEVICE}/results?target=remote-lo6&from=-5m`)).body.results.length > 0);
});

test('an invalid config is refused by the console before sending, with the agent schema\'s path', async () => {
  const bad = await c.api<PushBody>('PUT', `/api/devices/${DEVICE}/config`, { probes: [{ ...loProbe('x'), count: 'four' }], uplink: {} });
  assert.equal(bad.status, 422);
  const paths = (bad.body.problems as Array<{ path: string }>).map((p) => p.path);
  assert.ok(paths.includes('probes[0].count') && paths.includes('uplink'), JSON.stringify(bad.body.problems));
  // Valid for the schema, but over the 64 KB the agent accepts on its config topic.
  const many = Array.from({ length: 700 }, (_, i) => loProbe(`probe-with-a-long-descriptive-name-${String(i).padStart(4, '0')}`));
  const big = await c.api<PushBody>('PUT', `/api/devices/${DEVICE}/config`, { probes: many });
  assert.equal(big.status, 422, JSON.stringify(big.body).slice(0, 300));
  assert.match(JSON.stringify(big.body.problems), /bytes|large|size/i);
  const stale = await c.api<PushBody>('PUT', `/api/devices/${DEVICE}/config`, { version: 1, probes: [] });
  assert.equal(stale.status, 409, 'a version the agent would ignore');
  assert.equal((await c.api<ConfigBody>('GET', `/api/devices/${DEVICE}/config`)).body.pushed?.version, 1, 'nothing stored');
});

test("a config the agent's safety policy refuses comes back as rejected with its reason", { timeout: 60_000 }, async () => {
  // Valid for the schema; the agent refuses multicast whatever its allow list says (no packet is sent).
  const push = await c.api<PushBody>('PUT', `/api/devices/${DEVICE}/config`, { agent_operations: { probe_interval: 1 }, probes: [loProbe('mcast', '224.0.0.1')] });
  assert.equal(push.status, 202, JSON.stringify(push.body));
  assert.equal(push.body.version, 2);
  await waitUntil('config 2 rejected', 20_000, async () => (await device()).config.status === 'rejected');
  const d = await device();
  assert.equal(d.config.applied_version, 1);
  assert.equal(d.config.error?.version, 2);
  assert.match(d.config.error!.reason, /multicast/i);
});

test('commands: stop and start answered, probe-now returns its results, a bad one rejected; replies kept', { timeout: 60_000 }, async () => {
  const stop = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'stop' });
  assert.equal(stop.status, 200, JSON.stringify(stop.body));
  assert.equal(stop.body.status, 'ok');
  assert.deepEqual(stop.body.reply?.result, { monitoring_enabled: false, changed: true });
  await waitUntil('monitoring off in state', 10_000, async () => (await device()).monitoring_enabled === false);
  const probe = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'probe-now', args: { names: ['remote-lo4'] } });
  assert.equal(probe.body.status, 'ok', JSON.stringify(probe.body));
  assert.equal((probe.body.reply?.result as { results: number }).results, 1);
  const start = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'start' });
  assert.equal((start.body.reply?.result as { monitoring_enabled: boolean }).monitoring_enabled, true);
  const upd = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'update' });
  assert.equal(upd.body.status, 'rejected');
  assert.match(upd.body.reply?.error ?? '', /invalid args/);
  // No root updater runs here: the agent writes its request and says 'accepted'; the final
  // reply replacing it is tested in mosquitto-broker.test.ts.
  const upd2 = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'update', args: { version: '9.9.9' } });
  assert.equal(upd2.body.status, 'accepted', JSON.stringify(upd2.body));
  const badArgs = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands?wait=15`, { command: 'probe-now', args: { names: ['no-such-probe'] } });
  assert.equal(badArgs.body.status, 'rejected');
  const unknown = await c.api<CommandView>('POST', `/api/devices/${DEVICE}/commands`, { command: 'format-disk' });
  assert.equal(unknown.status, 400, 'unknown commands never leave the console');

  const kept = (await c.api<CommandsBody>('GET', `/api/devices/${DEVICE}/commands`)).body.commands;
  // Newest first; the refused 'format-disk' was never stored.
  assert.deepEqual(kept.map((x: { command: string }) => x.command), ['probe-now', 'update', 'update', 'start', 'probe-now', 'stop']);
  assert.ok(kept.every((x: { reply: unknown; status: string }) => x.reply !== null && x.status !== 'sent'));
  const one = await c.api<CommandView>('GET', `/api/devices/${DEVICE}/commands/${stop.body.id}`);
  assert.equal(one.body.reply?.status, 'ok');
});
