// The IoT Core stand-in must be as strict as the real bridge, or the iot-core tests prove
// little: a plain mqtt.js client breaking each rule gets refused or cut off.
import assert from 'node:assert/strict';
import { sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connectAsync, type IClientOptions } from 'mqtt';
import { loadPrivateKey, mintJwt } from '../../agent/uplink/jwt.js';
import type { IotCoreBroker } from '../helpers/iot-core-broker.js';
import type { TestCa } from '../helpers/tls-fixtures.js';
import { iotCoreHarness, IOT, usePki, waitUntil, type Harness } from './harness.js';

/** A JWT with any claims (mintJwt refuses to make some of the ones tested here). */
function signedJwt(key: KeyObject, claims: object): string {
  const input = `${Buffer.from('{"alg":"ES256","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

describe('IoT Core test bridge', () => {
  let pki: TestCa;
  let h: Harness & { broker: IotCoreBroker; keyDir: string };
  usePki((p) => (pki = p));
  before(async () => (h = await iotCoreHarness(pki)));
  after(async () => h.close());

  const options = (over: IClientOptions = {}, jwtNow = new Date()): IClientOptions => {
    const key = loadPrivateKey(`${h.keyDir}/ec_private.pem`, 'ES256');
    return {
      protocol: 'mqtts', host: '127.0.0.1', port: h.broker.port, ca: readFileSync(pki.caCert), protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000,
      clientId: h.broker.clientIdFor(h.deviceId), username: 'unused', password: mintJwt({ key, algorithm: 'ES256', audience: IOT.project, now: jwtNow, ttlMs: 3600_000 }).token,
      ...over,
    };
  };
  const refused = async (over: IClientOptions, jwtNow?: Date): Promise<string> => {
    const err = await connectAsync(options(over, jwtNow)).then((c) => (c.end(true), null), (e: Error) => e);
    assert.ok(err, 'connection should have been refused');
    return h.broker.connects.at(-1)!.reason ?? '';
  };

  test('accepts a well-formed device connection', async () => {
    const c = await connectAsync(options());
    await c.endAsync();
    assert.equal(h.broker.connects.at(-1)!.ok, true);
  });

  test('refuses a bad client id, a wrong username, a last will, a persistent session, a JWT too long-lived or for another project', async () => {
    assert.match(await refused({ clientId: h.deviceId }), /bad client id/);
    assert.match(await refused({ username: 'device' }), /username/);
    assert.match(await refused({ will: { topic: `/devices/${h.deviceId}/state`, payload: Buffer.from('x'), qos: 1, retain: false } }), /will/);
    assert.match(await refused({ clean: false }), /persistent/);
    const key = loadPrivateKey(`${h.keyDir}/ec_private.pem`, 'ES256');
    const iat = Math.floor(Date.now() / 1000);
    assert.match(await refused({ password: signedJwt(key, { iat, exp: iat + 2 * 86_400, aud: IOT.project }) }), /24 h/);
    const valid = mintJwt({ key, algorithm: 'ES256', audience: IOT.project, now: new Date(), ttlMs: 3600_000 }).token.split('.');
    assert.match(await refused({ password: [valid[0], Buffer.from(JSON.stringify({ iat, exp: iat + 7200, aud: IOT.project })).toString('base64url'), valid[2]].join('.') }), /signature/);
    assert.match(await refused({ password: mintJwt({ key, algorithm: 'ES256', audience: 'other', now: new Date(), ttlMs: 60_000 }).token }), /aud/);
    assert.match(await refused({}, new Date(Date.now() - 2 * 3600_000)), /expired/);
  });

  test('cuts a device that publishes retained or to a foreign topic; refuses foreign subscriptions', async () => {
    const c1 = await connectAsync(options());
    const closed1 = new Promise<void>((r) => c1.once('close', () => r()));
    c1.publish(`/devices/${h.deviceId}/state`, 'x', { qos: 1, retain: true });
    await closed1;
    const c2 = await connectAsync(options());
    await assert.rejects(c2.subscribeAsync({ '/devices/other/config': { qos: 1 } }), (e: Error & { packet?: { granted: number[] } }) => e.packet?.granted[0] === 128);
    const closed2 = new Promise<void>((r) => c2.once('close', () => r()));
    c2.publish('/devices/other/events', 'x', { qos: 1 });
    await closed2;
    c1.end(true);
    c2.end(true);
    await waitUntil(() => h.broker.violations.length >= 3, 2000, 'three violations');
    assert.deepEqual(h.broker.violations.map((v) => v.replace(/^.*: /, '')), ['retained publish on /devices/pi-iot/state', 'subscribe to foreign topic /devices/other/config', 'publish to foreign topic /devices/other/events']);
  });
});
