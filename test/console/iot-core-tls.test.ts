// The agent's own iot-core uplink (JWT minted from its private key, the IoT Core client id,
// TLS with our CA) against the console's embedded broker on its TLS listener; the JWT's
// expiry ends the connection as IoT Core did; a console restart re-publishes retained config.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAsync } from 'mqtt';
import { iotCoreUplinkSchema, type IotCoreUplinkConfig } from '../../agent/config/schema.js';
import type { ControlMessage } from '../../agent/core/uplink.js';
import { generateDeviceKeys } from '../../agent/uplink/keys.js';
import { createTransport } from '../../agent/uplink/transport.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';
import { CaptureLogger, FAST_TIMING, syncedClock } from '../uplink/harness.js';
import { connectCode, ecKeyPair, es256Jwt, result, startTestConsole, telemetry, waitUntil, type TestConsole } from './helpers.js';
import type { ConfigBody, PushBody, RegisteredBody, StreamsBody } from '../../console/api/types.js';

let pki: TestCa;
let c: TestConsole;
let keyDir: string;
let privateKeyPath = '';
const IOT = { project: 'fleetprobe', region: 'local', registry: 'fleet' };

before(async () => {
  pki = await createTestCa('console-test-ca');
  c = await startTestConsole({ broker: { port: null, tls: { port: 0, cert_file: pki.server.cert, key_file: pki.server.key } } });
  keyDir = mkdtempSync(join(tmpdir(), 'fp-console-keys-'));
});

after(async () => {
  await c?.remove();
  await pki?.remove();
  rmSync(keyDir, { recursive: true, force: true });
});

test("the agent's iot-core uplink logs in with its JWT over TLS; events and config flow", { timeout: 60_000 }, async () => {
  const keys = generateDeviceKeys(keyDir);
  privateKeyPath = keys.privateKeyPath;
  const reg = await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-iot', public_keys: [readFileSync(keys.publicKeyPath, 'utf8')] });
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  assert.equal(reg.body.registered[0]?.password, undefined);
  const tlsUrl = c.mqttUrls.find((u) => u.startsWith('mqtts://'))!;
  const cfg: IotCoreUplinkConfig = {
    ...iotCoreUplinkSchema.parse({ profile: 'iot-core', host: '127.0.0.1', ...IOT, private_key_file: keys.privateKeyPath, ca_file: pki.caCert }),
    // The schema allows only IoT Core's ports (8883, 443); the test listener is on a free one.
    port: Number(new URL(tlsUrl).port) as IotCoreUplinkConfig['port'],
  };
  const logger = new CaptureLogger();
  const t = createTransport(cfg, { deviceId: 'pi-iot', logger, clock: syncedClock, timing: FAST_TIMING });
  const control: ControlMessage[] = [];
  t.on('control', (m) => control.push(m));
  const up = new Promise<void>((r) => t.on('connected', () => r()));
  t.start();
  await up;
  try {
    await t.publishEvent(telemetry('pi-iot', 'iot-stream', [{ seq: 1, r: result('gw', Date.now(), [3]) }, { seq: 2, r: result('gw', Date.now(), [4]) }]));
    const streams = (await c.api<StreamsBody>('GET', '/api/devices/pi-iot/streams')).body.streams;
    assert.equal(streams[0]?.results, 2);
    const push = await c.api<PushBody>('PUT', '/api/devices/pi-iot/config', { probes: [] });
    assert.equal(push.body.published, true);
    await waitUntil('the config reached the device', 5000, async () => control.some((m) => m.kind === 'config'));
    assert.equal(JSON.parse(control.find((m) => m.kind === 'config')!.payload.toString()).version, 1);
  } finally {
    await t.stop();
  }
});

test('a JWT ends its connection when it expires, as IoT Core did', { timeout: 30_000 }, async () => {
  const k = ecKeyPair();
  await c.api<RegisteredBody>('POST', '/api/devices', { id: 'pi-short', public_keys: [k.publicPem] });
  const tlsUrl = c.mqttUrls.find((u) => u.startsWith('mqtts://'))!;
  const now = Math.floor(Date.now() / 1000);
  const client = await connectAsync(tlsUrl, {
    clientId: `projects/fleetprobe/locations/local/registries/fleet/devices/pi-short`, username: 'unused', password: es256Jwt(k.privateKey, { iat: now, exp: now + 2, aud: 'fleetprobe' }),
    ca: readFileSync(pki.caCert), reconnectPeriod: 0, protocolVersion: 4,
  });
  client.on('error', () => undefined);
  const t0 = Date.now();
  await new Promise<void>((r) => client.once('close', () => r()));
  const lived = Date.now() - t0;
  assert.ok(lived > 500 && lived < 4000, `connection lived ${lived} ms`);
  assert.notEqual(await connectCode(tlsUrl, { clientId: 'projects/fleetprobe/locations/local/registries/fleet/devices/pi-short', username: 'unused', password: es256Jwt(k.privateKey, { iat: now - 10, exp: now - 1, aud: 'fleetprobe' }), ca: readFileSync(pki.caCert) }), 0);
});

test('after a console restart the embedded broker holds every latest config again (retained)', { timeout: 30_000 }, async () => {
  await c.stop();
  c = await startTestConsole({ broker: { port: null, tls: { port: 0, cert_file: pki.server.cert, key_file: pki.server.key } } }, { dir: c.dir });
  assert.equal((await c.api<ConfigBody>('GET', '/api/devices/pi-iot/config')).body.pushed?.version, 1, 'the store survived');
  // pi-iot's config (pushed before the restart) is retained again: a subscriber gets it at once.
  const tlsUrl = c.mqttUrls.find((u) => u.startsWith('mqtts://'))!;
  const now = Math.floor(Date.now() / 1000);
  const key = createPrivateKey(readFileSync(privateKeyPath, 'utf8'));
  const client = await connectAsync(tlsUrl, {
    clientId: 'projects/fleetprobe/locations/local/registries/fleet/devices/pi-iot', username: 'unused', password: es256Jwt(key, { iat: now, exp: now + 600, aud: 'fleetprobe' }),
    ca: readFileSync(pki.caCert), reconnectPeriod: 0, protocolVersion: 4,
  });
  try {
    const got = new Promise<{ topic: string; retain: boolean; payload: Buffer }>((r) => client.on('message', (topic, payload, packet) => r({ topic, payload, retain: packet.retain })));
    await client.subscribeAsync('/devices/pi-iot/config', { qos: 1 });
    const m = await got;
    assert.equal(m.retain, true);
    assert.equal(JSON.parse(m.payload.toString()).version, 1);
  } finally {
    await client.endAsync();
  }
});
