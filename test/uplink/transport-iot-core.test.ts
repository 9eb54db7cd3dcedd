// What only the iot-core profile does: client id format, JWT auth (refused with a wrong key
// or an expired token), proactive reconnect before exp, waiting for the clock, no retain or
// will, and the broker's publish quotas.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IotCoreUplinkConfig } from '../../agent/config/schema.js';
import { UplinkConfigError } from '../../agent/uplink/errors.js';
import { generateDeviceKeys } from '../../agent/uplink/keys.js';
import { createTransport } from '../../agent/uplink/transport.js';
import type { IotCoreBroker } from '../helpers/iot-core-broker.js';
import type { TestCa } from '../helpers/tls-fixtures.js';
import { CaptureLogger, iotCoreHarness, IOT, once, syncedClock, usePki, waitUntil, type Harness } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const HOUR = 3600_000;

describe('iot-core profile', () => {
  let h: Harness & { broker: IotCoreBroker; keyDir: string };
  let rsaKeyFile: string;
  let scratch: string;
  let pki: TestCa;
  usePki((p) => (pki = p));
  before(async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    scratch = mkdtempSync(join(tmpdir(), 'fp-iot-keys-'));
    rsaKeyFile = join(scratch, 'rsa_private.pem');
    writeFileSync(rsaKeyFile, rsa.privateKey, { mode: 0o600 });
    h = await iotCoreHarness(pki, { extraKeys: [rsa.publicKey] });
  });
  after(async () => {
    await h.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const cfg = (extra: Partial<IotCoreUplinkConfig> = {}): IotCoreUplinkConfig => ({ ...(h.config() as IotCoreUplinkConfig), ...extra });
  const lastConnect = (): IotCoreBroker['connects'][number] => h.broker.connects.at(-1)!;

  test('client id, username "unused", and a JWT with iat, exp (jwt_ttl_minutes) and aud = project', async () => {
    const { transport } = h.transport();
    transport.start();
    await once(transport, 'connected');
    await transport.stop();
    const c = lastConnect();
    assert.equal(c.clientId, `projects/${IOT.project}/locations/${IOT.region}/registries/${IOT.registry}/devices/${h.deviceId}`);
    assert.equal(c.ok, true, c.reason ?? '');
    assert.equal(c.claims?.aud, IOT.project);
    assert.equal(c.claims!.exp - c.claims!.iat, 60 * 60);
    assert.ok(Math.abs(c.claims!.iat - Date.now() / 1000) < 5);
  });

  test('RS256 with an RSA key works too', async () => {
    const { transport } = h.transport({}, cfg({ algorithm: 'RS256', private_key_file: rsaKeyFile }));
    transport.start();
    await once(transport, 'connected');
    await transport.stop();
    assert.equal(lastConnect().ok, true);
  });

  test('a key that does not fit the algorithm fails at creation, with one line', () => {
    const logger = new CaptureLogger();
    assert.throws(() => createTransport(cfg({ algorithm: 'ES256', private_key_file: rsaKeyFile }), { deviceId: h.deviceId, logger, clock: syncedClock }), (err: Error) => err instanceof UplinkConfigError && /not a P-256 EC key/.test(err.message) && !err.message.includes('\n'));
    assert.throws(() => createTransport(cfg({ private_key_file: '/nonexistent/key.pem' }), { deviceId: h.deviceId, logger, clock: syncedClock }), UplinkConfigError);
  });

  async function refusedWith(deps: Parameters<Harness['transport']>[0], config: IotCoreUplinkConfig, brokerReason: RegExp): Promise<CaptureLogger> {
    const before = h.broker.connects.length;
    const { transport, logger } = h.transport(deps, config);
    let connected = false;
    transport.on('connected', () => (connected = true));
    transport.start();
    await waitUntil(() => h.broker.connects.length >= before + 2, 5000, 'two attempts');
    await transport.stop();
    assert.equal(connected, false);
    const tries = h.broker.connects.slice(before);
    assert.ok(tries.every((c) => !c.ok && brokerReason.test(c.reason ?? '')), JSON.stringify(tries));
    assert.match(logger.matching(/cannot connect/, 'warn')[0] ?? '', /bad user name or password/);
    return logger;
  }

  test('a JWT signed with an unregistered key is refused', async () => {
    const other = generateDeviceKeys(join(scratch, 'other'));
    await refusedWith({}, cfg({ private_key_file: other.privateKeyPath }), /signature/);
  });

  test('an expired JWT is refused (device clock 2 h behind, though it claims to be synced)', async () => {
    await refusedWith({ now: () => new Date(Date.now() - 2 * HOUR) }, cfg(), /expired/);
  });

  test('reconnects with a fresh JWT before the current one expires', async () => {
    const before = h.broker.connects.length;
    const reasons: string[] = [];
    const { transport } = h.transport({ jwtTtlMs: 3000 });
    transport.on('disconnected', (r) => reasons.push(r));
    transport.start();
    await waitUntil(() => h.broker.connects.slice(before).filter((c) => c.ok).length >= 3, 10_000, 'three connections');
    await transport.stop();
    const conns = h.broker.connects.slice(before, before + 3);
    assert.ok(conns.every((c) => c.ok), JSON.stringify(conns));
    assert.ok(conns.every((c) => !c.expiredWhileConnected), 'the bridge never had to cut an expired connection');
    for (let i = 1; i < conns.length; i++) {
      assert.ok(conns[i]!.at / 1000 < conns[i - 1]!.claims!.exp, `connection ${i} came after the previous token expired`);
      assert.ok(conns[i]!.claims!.exp > conns[i - 1]!.claims!.exp, 'a fresh token each time');
    }
    assert.ok(reasons.slice(0, 2).every((r) => /fresh JWT/.test(r)), reasons.join('; '));
  });

  test('with the clock unsynced it does not try to authenticate; it connects once the clock is synced', async () => {
    const before = h.broker.connects.length;
    let synced = false;
    const { transport, logger } = h.transport({ clock: { synced: () => synced } });
    transport.start();
    await sleep(500);
    assert.equal(h.broker.connects.length, before, 'no connection attempt');
    assert.equal(transport.connected, false);
    assert.equal(logger.matching(/waiting for the system clock/).length, 1, 'logged once');
    synced = true;
    await once(transport, 'connected', 2000);
    await transport.stop();
    assert.equal(logger.matching(/cannot connect/).length, 0);
  });

  test('auth refused while the clock is unsynced means wait for the clock, not a failure', async () => {
    // The clock looked synced when the JWT was made, then NTP stepped it: a refusal follows.
    let checks = 0;
    let fixed = false;
    const clock = { synced: () => fixed || checks++ === 0 };
    const { transport, logger } = h.transport({ clock, now: () => new Date(Date.now() - (fixed ? 0 : 2 * HOUR)) });
    transport.start();
    await waitUntil(() => logger.matching(/waiting for the system clock/).length > 0, 3000, 'the clock wait');
    await sleep(300);
    assert.equal(logger.matching(/cannot connect/).length, 0);
    assert.match(logger.matching(/waiting for the system clock/)[0]!, /bad user name or password/);
    fixed = true;
    await once(transport, 'connected', 2000);
    await transport.stop();
  });

  test('a refused subscription is logged; the connection stays up', async () => {
    h.broker.refuseTopics = /commands/;
    try {
      const { transport, logger } = h.transport();
      transport.start();
      await once(transport, 'connected');
      await transport.publishEvent(Buffer.from('still-works'));
      await transport.stop();
      assert.equal(logger.matching(/refused the subscription to \/devices\/pi-iot\/commands\/#/, 'warn').length, 1);
    } finally {
      h.broker.refuseTopics = null;
    }
  });

  test('state updates are limited to one per second', async () => {
    const { transport } = h.transport();
    transport.start();
    await once(transport, 'connected');
    const started = performance.now();
    const done: number[] = [];
    await Promise.all([1, 2, 3].map((i) => transport.publishState(Buffer.from(`s${i}`)).then(() => done.push(performance.now() - started))));
    await transport.stop();
    assert.ok(done[0]! < 500, `first state took ${done[0]} ms`);
    assert.ok(done[2]! >= 1900, `three states in ${done[2]!.toFixed(0)} ms: not rate-limited`);
    const got = h.published(h.topics.state).slice(-3).map((m) => m.payload.toString());
    assert.deepEqual(got, ['s1', 's2', 's3'], 'in order');
  });

  test('publishes are limited to 100 per second', async () => {
    const { transport } = h.transport();
    transport.start();
    await once(transport, 'connected');
    await sleep(1000); // a full bucket
    const started = performance.now();
    await Promise.all(Array.from({ length: 150 }, (_, i) => transport.publishEvent(Buffer.from(`e${i}`))));
    const elapsed = performance.now() - started;
    await transport.stop();
    assert.ok(elapsed >= 450 && elapsed < 2000, `150 events took ${elapsed.toFixed(0)} ms; expected about 500 (100 burst, then 100/s)`);
  });

  test('the device never used retain, a will, or a foreign topic', () => {
    assert.deepEqual(h.broker.violations, []);
    assert.ok(h.broker.publishes.every((p) => !p.retain));
  });
});
