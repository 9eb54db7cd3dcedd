// The console with its embedded broker: device registration, password and IoT Core-style JWT
// auth, per-device ACLs, ingest with QoS 1 duplicates and gaps, state and presence, all
// through real MQTT connections and the real HTTP API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { connectCode, deviceClient, ecKeyPair, es256Jwt, result, rs256Jwt, rsaKeyPair, startTestConsole, telemetry, waitUntil, type TestConsole } from './helpers.js';
import type { CommandsBody, ConsoleInfo, DeviceBody, DevicesBody, PushBody, RegisteredBody, RemovedBody, ResultsBody, StreamsBody } from '../../console/api/types.js';
import type { CommandView } from '../../console/fleet/commands.js';

let c: TestConsole;
let url: string;
const keys = ecKeyPair();
const otherKeys = ecKeyPair();
let pwA = '';
let pwB = '';
const iot = (device: string) => `projects/fleetprobe/locations/local/registries/fleet/devices/${device}`;
const clients: MqttClient[] = [];

before(async () => {
  c = await startTestConsole();
  url = c.mqttUrls[0]!;
});

after(async () => {
  await Promise.all(clients.map((x) => x.endAsync(true).catch(() => undefined)));
  await c?.remove();
});

test('registration: one device, many, a CSV; passwords generated once, duplicates refused whole', async () => {
  const one = await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-a' });
  assert.equal(one.status, 201, JSON.stringify(one.body));
  pwA = one.body.registered[0]!.password!;
  assert.match(pwA, /^[A-Za-z0-9_-]{24}$/);
  const many = await c.api<RegisteredBody>('POST', '/api/devices', { devices: [{ id: 'pi-b', password: 'a-chosen-password-b' }, { id: 'pi-jwt', public_keys: [keys.publicPem] }] });
  assert.equal(many.status, 201, JSON.stringify(many.body));
  pwB = 'a-chosen-password-b';
  assert.equal(many.body.registered[0]!.password, undefined, 'a chosen password is not echoed');
  assert.equal(many.body.registered[1]!.public_keys, 1);
  const csv = `id,password,public_key\npi-c1,,\npi-c2,csv-password-c2-long,\n"pi-c3",,"${otherKeys.publicPem.trim()}"\n`;
  const imp = await c.api<RegisteredBody>('POST', '/api/devices/import', csv, { contentType: 'text/csv' });
  assert.equal(imp.status, 201, JSON.stringify(imp.body));
  assert.deepEqual(imp.body.registered.map((r: { id: string }) => r.id), ['pi-c1', 'pi-c2', 'pi-c3']);
  assert.ok(imp.body.registered[0]!.password);
  assert.equal(imp.body.registered[2]!.password, undefined);

  const dup = await c.api<RegisteredBody>('POST', '/api/devices', { devices: [{ id: 'pi-new' }, { id: 'pi-a' }] });
  assert.equal(dup.status, 409);
  assert.deepEqual(dup.body.ids, ['pi-a']);
  const list = await c.api<DevicesBody>('GET', '/api/devices');
  assert.deepEqual(list.body.devices.map((d: { id: string }) => d.id), ['pi-a', 'pi-b', 'pi-c1', 'pi-c2', 'pi-c3', 'pi-jwt'], 'pi-new was not registered');
  assert.ok(!JSON.stringify(list.body).includes('scrypt'), 'no password hash leaves the console');

  for (const bad of [{ id: 'bad id' }, { id: 'x', password: 'short' }, { id: 'pi-k', public_keys: ['not a key'] }]) {
    const r = await c.api<RegisteredBody>('POST', '/api/devices', bad);
    assert.equal(r.status, 400, JSON.stringify(r.body));
  }
  const badCsv = await c.api<RegisteredBody>('POST', '/api/devices/import', 'id,colour\nx,red\n', { contentType: 'text/csv' });
  assert.equal(badCsv.status, 400);
  assert.match(badCsv.body.error ?? '', /unknown column/);
});

test('password auth: right password in, wrong password, unknown device and a foreign client id out', async () => {
  assert.equal(await connectCode(url, { clientId: 'pi-a', username: 'pi-a', password: pwA }), 0);
  assert.equal(await connectCode(url, { clientId: 'pi-a', username: 'pi-a', password: 'wrong-password-xx' }), 4);
  assert.equal(await connectCode(url, { clientId: 'pi-zz', username: 'pi-zz', password: pwA }), 4);
  assert.equal(await connectCode(url, { clientId: 'pi-a' }), 4, 'no credentials');
  // Device B's password cannot take over A's session.
  assert.equal(await connectCode(url, { clientId: 'pi-a', username: 'pi-b', password: pwB }), 2);
});

test('JWT auth as IoT Core: a good token in; bad signature, expired, wrong audience, wrong registry out', async () => {
  const now = Math.floor(Date.now() / 1000);
  const good = es256Jwt(keys.privateKey, { iat: now, exp: now + 3600, aud: 'fleetprobe' });
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: good }), 0);
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: es256Jwt(otherKeys.privateKey, { iat: now, exp: now + 3600, aud: 'fleetprobe' }) }), 4, 'signed by a key not registered for pi-jwt');
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: es256Jwt(keys.privateKey, { iat: now - 7200, exp: now - 60, aud: 'fleetprobe' }) }), 4, 'expired');
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: es256Jwt(keys.privateKey, { iat: now, exp: now + 3600, aud: 'other-project' }) }), 4, 'audience');
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: 'not.a.jwt' }), 4);
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt').replace('/fleet/', '/other/'), username: 'unused', password: good }), 2);
  assert.equal(await connectCode(url, { clientId: iot('pi-a'), username: 'unused', password: good }), 5, 'pi-a has no key');
  // RS256 with an RSA key; an ES256 token cannot pass for a device whose key is RSA.
  const rsa = rsaKeyPair();
  assert.equal((await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-rsa', public_keys: [rsa.publicPem] })).status, 201);
  assert.equal(await connectCode(url, { clientId: iot('pi-rsa'), username: 'unused', password: rs256Jwt(rsa.privateKey, { iat: now, exp: now + 600, aud: 'fleetprobe' }) }), 0);
  assert.equal(await connectCode(url, { clientId: iot('pi-rsa'), username: 'unused', password: es256Jwt(keys.privateKey, { iat: now, exp: now + 600, aud: 'fleetprobe' }) }), 4);
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: es256Jwt(keys.privateKey, { iat: now, exp: now + 3 * 86_400, aud: 'fleetprobe' }) }), 4, 'lifetime over 24 h');
  assert.equal(await connectCode(url, { clientId: iot('pi-jwt'), username: 'unused', password: es256Jwt(keys.privateKey, { iat: now + 3600, exp: now + 7200, aud: 'fleetprobe' }) }), 4, 'issued in the future');
  // pi-c3 registered its key from the CSV.
  assert.equal(await connectCode(url, { clientId: iot('pi-c3'), username: 'unused', password: es256Jwt(otherKeys.privateKey, { iat: now, exp: now + 600, aud: 'fleetprobe' }) }), 0);
  const refused = (await c.api<ConsoleInfo>('GET', '/api/console')).body.broker.refusedConnects;
  assert.ok(refused >= 6, `refused connects counted: ${refused}`);
});

test("ACL: device A cannot read B's config or commands, nor write B's events", async () => {
  const a = await deviceClient(url, { clientId: 'pi-a', username: 'pi-a', password: pwA });
  clients.push(a);
  const got: string[] = [];
  a.on('message', (topic) => got.push(topic));
  // mqtt.js rejects a SUBACK with refusals; the packet says which filters were refused.
  const suback = await a.subscribeAsync({ '/devices/pi-b/config': { qos: 1 }, '/devices/pi-b/commands/#': { qos: 1 }, '/devices/+/config': { qos: 1 }, '#': { qos: 1 }, '/devices/pi-a/config': { qos: 1 } }).then(
    () => assert.fail('every filter was granted'),
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
  );
  assert.deepEqual(suback, [128, 128, 128, 128, 1]);
  // Config for B (retained) and a command for B: A must see neither.
  const push = await c.api<PushBody>('PUT', '/api/devices/pi-b/config', { agent_operations: { probe_interval: 30 }, probes: [] });
  assert.equal(push.status, 202, JSON.stringify(push.body));
  const cmd = await c.api<CommandView>('POST', '/api/devices/pi-b/commands', { command: 'start' });
  assert.equal(cmd.status, 202);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(got, []);

  // Writing B's events: refused, the connection is closed, nothing is stored for B.
  const closed = new Promise<void>((r) => a.once('close', () => r()));
  a.publish('/devices/pi-b/events', telemetry('pi-b', 's1', [{ seq: 1, r: result('p', Date.now(), [1]) }]), { qos: 1 });
  await closed;
  const streams = await c.api<StreamsBody>('GET', '/api/devices/pi-b/streams');
  assert.deepEqual(streams.body.streams, []);
  // Retained publishes other than the status are refused too.
  const a2 = await deviceClient(url, { clientId: 'pi-a', username: 'pi-a', password: pwA });
  clients.push(a2);
  const closed2 = new Promise<void>((r) => a2.once('close', () => r()));
  a2.publish('/devices/pi-a/state', '{}', { qos: 1, retain: true });
  await closed2;
});

test('ingest: QoS 1 duplicates dropped, gaps recorded and closed by late arrivals, rejected messages counted', async () => {
  const a = await deviceClient(url, { clientId: 'pi-a', username: 'pi-a', password: pwA });
  clients.push(a);
  const t0 = Date.now() - 60_000;
  const msg = (seqs: number[], stream = 'stream-1') => telemetry('pi-a', stream, seqs.map((seq) => ({ seq, r: result('lo4', t0 + seq * 1000, [1 + seq / 100, 2, null]) })));
  await a.publishAsync('/devices/pi-a/events', msg([1, 2, 3]), { qos: 1 });
  await a.publishAsync('/devices/pi-a/events', msg([1, 2, 3]), { qos: 1, dup: true } as never); // a redelivery
  await a.publishAsync('/devices/pi-a/events', msg([3, 4, 8, 9]), { qos: 1 }); // 5..7 missing
  await a.publishAsync('/devices/pi-a/events', msg([12]), { qos: 1 }); // 10..11 missing
  await a.publishAsync('/devices/pi-a/events', msg([6]), { qos: 1 }); // splits 5..7
  await a.publishAsync('/devices/pi-a/events', msg([1, 2]), { qos: 1 }); // redelivered again
  await a.publishAsync('/devices/pi-a/events', msg([1], 'stream-2'), { qos: 1 }); // a new outbox database: its own seqs
  // PUBACK came after the store: everything is readable now.
  const s = (await c.api<StreamsBody>('GET', '/api/devices/pi-a/streams')).body;
  const s1 = s.streams.find((x) => x.stream === 'stream-1')!;
  assert.equal(s1.results, 8, JSON.stringify(s1));
  assert.equal(s1.duplicates, 6);
  assert.equal(s1.firstSeq, 1);
  assert.equal(s1.lastSeq, 12);
  assert.equal(s1.missing, 4);
  const gaps = s.gaps.filter((g: { stream: string }) => g.stream === 'stream-1').map((g: { fromSeq: number; toSeq: number }) => [g.fromSeq, g.toSeq]).sort((x: number[], y: number[]) => x[0]! - y[0]!);
  assert.deepEqual(gaps, [[5, 5], [7, 7], [10, 11]]);
  assert.equal(s.streams.find((x) => x.stream === 'stream-2')?.results, 1);

  const res = await c.api<ResultsBody>('GET', `/api/devices/pi-a/results?target=lo4&from=${t0}&to=${t0 + 20_000}`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.results.filter((r: { stream: string }) => r.stream === 'stream-1').map((r: { seq: number }) => r.seq), [1, 2, 3, 4, 6, 8, 9, 12]);
  assert.deepEqual(res.body.results[0]?.rtts_ms, [1.01, 2, null]);

  // A message that does not fit the schema is counted and acknowledged, not stored.
  await a.publishAsync('/devices/pi-a/events', Buffer.from('{"schema":1,"device":"pi-a","stream":"x","results":[{"seq":1}]}'), { qos: 1 });
  await a.publishAsync('/devices/pi-a/events', telemetry('pi-b', 'x', []), { qos: 1 });
  const dev = (await c.api<DeviceBody>('GET', '/api/devices/pi-a')).body.device;
  assert.equal(dev.rejected_messages, 2);
  assert.match(dev.last_rejection ?? '', /names device "pi-b"/);
});

test('state and presence: online, agent version, config status, outbox; offline on disconnect', async () => {
  const b = await deviceClient(url, { clientId: 'pi-b', username: 'pi-b', password: pwB, will: { topic: '/devices/pi-b/status', payload: Buffer.from('offline'), qos: 1, retain: true } });
  await waitUntil('pi-b online', 5000, async () => (await c.api<DeviceBody>('GET', '/api/devices/pi-b')).body.device.online === true);
  const state = {
    agent_version: '0.1.0', device: 'pi-b', config_version: 1, config_source: 'remote', config_error: null, monitoring_enabled: true, probes: 0,
    outbox: { rows: 7, bytes: 4096, oldest: null }, dropped_total: 3, last_delivery: null, last_error: null, uptime_s: 5, skipped_rounds: 0,
    rejected_messages: 0, updated_at: new Date().toISOString(),
  };
  await b.publishAsync('/devices/pi-b/state', JSON.stringify(state), { qos: 1 });
  const d = (await c.api<DeviceBody>('GET', '/api/devices/pi-b')).body.device;
  assert.equal(d.agent_version, '0.1.0');
  assert.equal(d.config.pushed_version, 1);
  assert.equal(d.config.applied_version, 1);
  assert.equal(d.config.status, 'applied');
  assert.deepEqual(d.outbox, state.outbox);
  assert.equal(d.dropped_total, 3);
  assert.ok(d.last_seen);
  // The command sent while B was offline went out again when B came online.
  const cmds = (await c.api<CommandsBody>('GET', '/api/devices/pi-b/commands')).body.commands;
  assert.equal(cmds[0]?.command, 'start');
  assert.ok(cmds[0]!.send_count >= 2, JSON.stringify(cmds[0]));
  await b.endAsync();
  await waitUntil('pi-b offline', 5000, async () => (await c.api<DeviceBody>('GET', '/api/devices/pi-b')).body.device.online === false);
});

test('every API route requires the admin token: 401 without it or with a wrong one, nothing done', async () => {
  const routes = c.routes();
  assert.ok(routes.length >= 15, `routes: ${routes.length}`);
  for (const { method, pattern } of [...routes, { method: 'GET', pattern: '/api/no-such-route' }, { method: 'GET', pattern: '/' }]) {
    const path = pattern.replace(':id', 'pi-a').replace(':cid', 'x').replace(':file', 'acl');
    for (const token of [null, 'wrong-token-wrong-token', `${'test-admin-token-0123456789'}x`]) {
      const body = method === 'GET' ? undefined : { id: 'pi-401', command: 'stop', probes: [] };
      const r = await c.api(method, path, body, { token });
      assert.equal(r.status, 401, `${method} ${path} with ${token}`);
    }
  }
  const list = (await c.api<DevicesBody>('GET', '/api/devices')).body.devices.map((d: { id: string }) => d.id);
  assert.ok(!list.includes('pi-401'));
});

test('removing a device ends its connection, refuses it from then on and forgets its data', async () => {
  const a = await deviceClient(url, { clientId: 'pi-a', username: 'pi-a', password: pwA });
  clients.push(a);
  const closed = new Promise<void>((r) => a.once('close', () => r()));
  const del = await c.api<RemovedBody>('DELETE', '/api/devices/pi-a');
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.deepEqual(del.body, { removed: 'pi-a', disconnected: true });
  await closed;
  assert.equal(await connectCode(url, { clientId: 'pi-a', username: 'pi-a', password: pwA }), 4);
  assert.equal((await c.api<ResultsBody>('GET', '/api/devices/pi-a/results?from=-1d')).status, 404);
  assert.equal((await c.api<RemovedBody>('DELETE', '/api/devices/pi-a')).status, 404);
  // The id can be registered again, from scratch.
  assert.equal((await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-a' })).status, 201);
  assert.deepEqual((await c.api<StreamsBody>('GET', '/api/devices/pi-a/streams')).body.streams, []);
});
