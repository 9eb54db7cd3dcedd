// The uplink's pure parts: backoff, token bucket, topics, message building, JWTs, keys, and
// the connection options each profile produces.
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { iotCoreUplinkSchema, mqttUplinkSchema } from '../../agent/config/schema.js';
import { Backoff } from '../../agent/uplink/backoff.js';
import { BatchBuilder } from '../../agent/uplink/batch.js';
import { KeyFileExistsError } from '../../agent/uplink/errors.js';
import { loadPrivateKey, mintJwt } from '../../agent/uplink/jwt.js';
import { generateDeviceKeys } from '../../agent/uplink/keys.js';
import { iotCoreProfile } from '../../agent/uplink/profile-iot-core.js';
import { mqttProfile } from '../../agent/uplink/profile-mqtt.js';
import { TokenBucket } from '../../agent/uplink/token-bucket.js';
import { deviceTopics } from '../../agent/uplink/topics.js';

const dirs: string[] = [];
const tmp = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-unit-'));
  dirs.push(dir);
  return dir;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('Backoff', () => {
  test('ceiling doubles from min to max; delays are uniform below it', () => {
    const top = new Backoff({ minMs: 1000, maxMs: 300_000, random: () => 0.9999999 });
    const delays = Array.from({ length: 12 }, () => top.next());
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000, 300000]);
    top.reset();
    assert.equal(top.next(), 1000);
    const zero = new Backoff({ minMs: 1000, maxMs: 300_000, random: () => 0 });
    assert.equal(zero.next(), 0);
  });

  test('stays finite after any number of attempts', () => {
    const b = new Backoff({ minMs: 1, maxMs: 10, random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    assert.equal(b.next(), 5);
  });
});

describe('TokenBucket', () => {
  test('bursts up to the bucket, then spaces reservations at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(100, 100, () => now);
    const waits = Array.from({ length: 103 }, () => bucket.reserve());
    assert.deepEqual(waits.slice(0, 100), Array(100).fill(0));
    assert.deepEqual(waits.slice(100), [10, 20, 30]);
    now = 1000;
    assert.equal(bucket.reserve(), 0);
  });

  test('one per second with burst 1', () => {
    let now = 0;
    const bucket = new TokenBucket(1, 1, () => now);
    assert.deepEqual([bucket.reserve(), bucket.reserve(), bucket.reserve()], [0, 1000, 2000]);
    now = 5000;
    assert.equal(bucket.reserve(), 0);
  });
});

describe('topics', () => {
  test('IoT Core layout, with and without a prefix', () => {
    const t = deviceTopics('pi-1');
    assert.deepEqual([t.events, t.state, t.config, t.commandsFilter, t.status], ['/devices/pi-1/events', '/devices/pi-1/state', '/devices/pi-1/config', '/devices/pi-1/commands/#', '/devices/pi-1/status']);
    assert.equal(t.eventsFor('diag'), '/devices/pi-1/events/diag');
    assert.equal(deviceTopics('pi-1', 'fleet/').events, 'fleet/devices/pi-1/events');
    assert.equal(deviceTopics('pi-1', 'fleet').events, 'fleet/devices/pi-1/events');
    assert.equal(t.controlKind('/devices/pi-1/config'), 'config');
    assert.equal(t.controlKind('/devices/pi-1/commands'), 'command');
    assert.equal(t.controlKind('/devices/pi-1/commands/a/b'), 'command');
    assert.equal(t.controlKind('/devices/pi-1/commandsx'), null);
    assert.equal(t.controlKind('/devices/pi-2/config'), null);
    assert.throws(() => t.eventsFor('a/#'), RangeError);
  });
});

describe('BatchBuilder', () => {
  const items = (n: number, from = 1, json = '{"a":1,"s":"é"}') => Array.from({ length: n }, (_, i) => ({ seq: from + i, ts: '2026-01-01T00:00:00.000Z', json }));

  test('builds valid JSON with seq first in each result, without parsing the records', () => {
    const b = new BatchBuilder('pi "1"');
    const r = b.build('s-1', items(3, 7), 10_000);
    assert.equal(r.kind, 'batch');
    if (r.kind !== 'batch') return;
    assert.deepEqual(JSON.parse(r.batch.payload.toString()), {
      schema: 1, device: 'pi "1"', stream: 's-1',
      results: [{ seq: 7, a: 1, s: 'é' }, { seq: 8, a: 1, s: 'é' }, { seq: 9, a: 1, s: 'é' }],
    });
    assert.deepEqual(r.batch.seqs, [7, 8, 9]);
    assert.ok(r.batch.payload.toString().includes('{"seq":7,"a":1'));
    const empty = b.build('s-1', items(1, 1, '{}'), 1000);
    assert.deepEqual(empty.kind === 'batch' && JSON.parse(empty.batch.payload.toString()).results, [{ seq: 1 }]);
  });

  test('stops before the byte limit (counting UTF-8 bytes) and reports the rest', () => {
    const b = new BatchBuilder('pi');
    const one = b.build('s', items(1), 10_000);
    const size1 = one.kind === 'batch' ? one.batch.payload.length : 0;
    const perItem = Buffer.byteLength(',{"seq":2,"a":1,"s":"é"}');
    const limit = size1 + 2 * perItem + 1; // room for 3 results, not 4
    const r = b.build('s', items(10), limit);
    assert.ok(r.kind === 'batch' && r.batch.seqs.length === 3 && r.rest === 7 && r.batch.payload.length <= limit);
    assert.equal(b.build('s', items(10), limit - 1).kind === 'batch' && (b.build('s', items(10), limit - 2) as { rest: number }).rest, 8);
  });

  test('randomized: multi-byte records at every limit give valid JSON, under the limit, as many as fit', () => {
    const b = new BatchBuilder('pi');
    const chars = ['a', 'é', '€', '😀', '"', '\\\\'];
    let rnd = 12345;
    const next = (n: number): number => ((rnd = (rnd * 1103515245 + 12345) % 2 ** 31), rnd % n);
    for (let round = 0; round < 300; round++) {
      const list = Array.from({ length: 1 + next(8) }, (_, i) => {
        const text = Array.from({ length: next(40) }, () => chars[next(chars.length)]).join('');
        return { seq: 1 + i * (1 + next(1000)), ts: 'x', json: JSON.stringify({ t: text }) };
      });
      const max = 60 + next(400);
      const r = b.build('s', list, max);
      // Reference: the largest prefix whose straightforwardly built message fits.
      const msg = (k: number): Buffer => Buffer.from(JSON.stringify({ schema: 1, device: 'pi', stream: 's', results: list.slice(0, k).map((it) => ({ seq: it.seq, ...(JSON.parse(it.json) as object) })) }));
      let fits = 0;
      while (fits < list.length && msg(fits + 1).length <= max) fits++;
      if (fits === 0) {
        assert.equal(r.kind, 'oversize', `round ${round}`);
        continue;
      }
      assert.equal(r.kind, 'batch', `round ${round}`);
      if (r.kind !== 'batch') continue;
      assert.ok(r.batch.payload.length <= max);
      assert.equal(r.batch.seqs.length, fits, `round ${round}`);
      assert.ok(r.batch.payload.equals(msg(fits)), `round ${round}: bytes differ`);
    }
  });

  test('a first result that cannot fit alone is reported as oversize', () => {
    const b = new BatchBuilder('pi');
    const big = [{ seq: 5, ts: 'x', json: `{"blob":"${'x'.repeat(500)}"}` }, ...items(2, 6)];
    const r = b.build('s', big, 300);
    assert.equal(r.kind, 'oversize');
    assert.equal(r.kind === 'oversize' && r.item.seq, 5);
  });

  test('the header follows a stream change', () => {
    const b = new BatchBuilder('pi');
    b.build('old', items(1), 1000);
    const r = b.build('new', items(1), 1000);
    assert.equal(r.kind === 'batch' && JSON.parse(r.batch.payload.toString()).stream, 'new');
  });
});

describe('JWT', () => {
  const keys = generateDeviceKeys(tmp());
  const ec = loadPrivateKey(keys.privateKeyPath, 'ES256');

  test('ES256: raw r||s signature that verifies with the public key; claims iat/exp/aud', () => {
    const now = new Date('2026-03-01T12:00:00.500Z');
    const { token, claims } = mintJwt({ key: ec, algorithm: 'ES256', audience: 'proj', now, ttlMs: 3600_000 });
    const [h, b, s] = token.split('.') as [string, string, string];
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'ES256', typ: 'JWT' });
    assert.deepEqual(JSON.parse(Buffer.from(b, 'base64url').toString()), { iat: 1772366400, exp: 1772370000, aud: 'proj' });
    assert.deepEqual(claims, { iat: 1772366400, exp: 1772370000, aud: 'proj' });
    const sig = Buffer.from(s, 'base64url');
    assert.equal(sig.length, 64);
    assert.ok(verify('sha256', Buffer.from(`${h}.${b}`), { key: createPublicKey(keys.publicKeyPem), dsaEncoding: 'ieee-p1363' }, sig));
  });

  test('lifetime is capped at 24 h', () => {
    const { claims } = mintJwt({ key: ec, algorithm: 'ES256', audience: 'p', now: new Date(0), ttlMs: 48 * 3600_000 });
    assert.equal(claims.exp - claims.iat, 86_400);
  });

  test('key type must match the algorithm', () => {
    assert.throws(() => loadPrivateKey(keys.privateKeyPath, 'RS256'), /not an RSA key/);
  });
});

describe('generateDeviceKeys', () => {
  test('P-256 PKCS#8 private key 0600, SPKI public key; refuses to overwrite', () => {
    const dir = join(tmp(), 'keys');
    const k = generateDeviceKeys(dir);
    assert.equal(statSync(k.privateKeyPath).mode & 0o777, 0o600);
    assert.match(readFileSync(k.privateKeyPath, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(k.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(readFileSync(k.publicKeyPath, 'utf8'), k.publicKeyPem);
    assert.equal(createPublicKey(k.publicKeyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const before = readFileSync(k.privateKeyPath, 'utf8');
    assert.throws(() => generateDeviceKeys(dir), (e: Error) => e instanceof KeyFileExistsError && e.message === `refusing to overwrite existing key file ${k.privateKeyPath}`);
    assert.equal(readFileSync(k.privateKeyPath, 'utf8'), before);
    const onlyPublic = tmp();
    writeFileSync(join(onlyPublic, 'ec_public.pem'), 'x');
    assert.throws(() => generateDeviceKeys(onlyPublic), KeyFileExistsError);
  });
});

describe('profiles: connection options', () => {
  test('mqtt: will retained offline on the status topic, client id, no TLS options for mqtt://', () => {
    const p = mqttProfile(mqttUplinkSchema.parse({ profile: 'mqtt', url: 'mqtt://broker:1884', username: 'u', password: 'p', topic_prefix: 'f' }), { deviceId: 'pi-9' });
    const { options, refreshAfterMs } = p.plan(new Date());
    assert.equal(refreshAfterMs, null);
    assert.deepEqual({ host: options.host, port: options.port, protocol: options.protocol, clientId: options.clientId, username: options.username, password: options.password, v: options.protocolVersion },
      { host: 'broker', port: 1884, protocol: 'mqtt', clientId: 'pi-9', username: 'u', password: 'p', v: 4 });
    assert.deepEqual({ ...options.will, payload: options.will?.payload.toString() }, { topic: 'f/devices/pi-9/status', payload: 'offline', qos: 1, retain: true });
    assert.equal(options.rejectUnauthorized, undefined);
    assert.equal(p.insecure, false);
    assert.equal(mqttProfile(mqttUplinkSchema.parse({ profile: 'mqtt', url: 'mqtts://b' }), { deviceId: 'x' }).plan(new Date()).options.port, 8883);
  });

  test('iot-core: JWT password, username unused, no will, TLS verified; ALPN "mqtt" on 443', () => {
    const keys = generateDeviceKeys(tmp());
    const base = { profile: 'iot-core', host: 'mqtt.example', project: 'p', region: 'r', registry: 'g', private_key_file: keys.privateKeyPath } as const;
    const p = iotCoreProfile(iotCoreUplinkSchema.parse(base), { deviceId: 'pi-9' });
    const now = new Date();
    const { options, refreshAfterMs } = p.plan(now);
    assert.equal(options.clientId, 'projects/p/locations/r/registries/g/devices/pi-9');
    assert.equal(options.username, 'unused');
    assert.equal(String(options.password).split('.').length, 3);
    assert.equal(options.will, undefined);
    assert.equal(options.rejectUnauthorized, true);
    assert.equal(options.port, 8883);
    assert.equal(options.ALPNProtocols, undefined);
    assert.ok(refreshAfterMs! > 54 * 60_000 && refreshAfterMs! <= 55 * 60_000, `refresh after ${refreshAfterMs} ms`);
    assert.equal(p.statusTopic, null);
    assert.deepEqual(iotCoreProfile(iotCoreUplinkSchema.parse({ ...base, port: 443 }), { deviceId: 'x' }).plan(now).options.ALPNProtocols, ['mqtt']);
  });
});
