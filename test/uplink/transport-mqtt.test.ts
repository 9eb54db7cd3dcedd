// What only the mqtt profile does: retained online/offline status with a last will, TLS
// verification (wrong CA, missing client certificate, explicit insecure), passwords, and
// connecting regardless of the clock.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mqttUplinkSchema, type UplinkConfig } from '../../agent/config/schema.js';
import { MqttSubscriber } from '../helpers/mqtt-subscriber.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';
import { mosquittoHarness, once, usePki, type Harness } from './harness.js';
import type { Mosquitto } from '../helpers/mosquitto.js';

let pki: TestCa;
usePki((p) => (pki = p));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withConfig(h: Harness, extra: Record<string, unknown>): UplinkConfig {
  const { profile: _profile, ...base } = h.config() as Record<string, unknown>;
  return mqttUplinkSchema.parse({ ...base, profile: 'mqtt', ...extra });
}

describe('mqtt profile: status topic and last will (Mosquitto plain)', () => {
  let h: Harness & { broker: Mosquitto };
  before(async () => (h = await mosquittoHarness('plain')));
  after(async () => h.close());

  /** A fresh subscriber sees only the retained status, with its retain flag. */
  async function retainedStatus(): Promise<{ payload: string; retain: boolean }> {
    const s = await MqttSubscriber.connect(h.broker.url, [h.topics.status]);
    try {
      const m = await s.waitFor((x) => x.topic === h.topics.status, 2000, 'the retained status');
      return { payload: m.payload.toString(), retain: m.retain };
    } finally {
      await s.close();
    }
  }

  test('online is retained on connect; offline on graceful stop; the will says offline on an abrupt drop', async () => {
    const { transport } = h.transport();
    transport.start();
    await once(transport, 'connected');
    await h.waitForPublish(h.topics.status, (m) => m.payload.toString() === 'online');
    assert.deepEqual(await retainedStatus(), { payload: 'online', retain: true });

    // Power loss: the broker sees the socket die without DISCONNECT and publishes the will.
    const seen = h.published(h.topics.status).length;
    h.proxy.setMode('refuse');
    h.proxy.cut();
    await h.waitForPublish(h.topics.status, (m) => m.payload.toString() === 'offline');
    assert.deepEqual(await retainedStatus(), { payload: 'offline', retain: true });
    h.proxy.setMode('forward');
    await once(transport, 'connected');
    await h.waitForPublish(h.topics.status, () => h.published(h.topics.status).length >= seen + 2);
    assert.deepEqual(await retainedStatus(), { payload: 'online', retain: true });

    await transport.stop();
    assert.deepEqual(await retainedStatus(), { payload: 'offline', retain: true });
    assert.deepEqual(h.published(h.topics.status).map((m) => m.payload.toString()), ['online', 'offline', 'online', 'offline']);
    assert.equal(h.published(h.topics.state).length, 0, 'presence never goes to the state topic');
  });

  test('the client id defaults to the device id; client_id overrides it', async () => {
    for (const [cfg, id] of [[h.config(), h.deviceId], [withConfig(h, { client_id: 'custom-client' }), 'custom-client']] as const) {
      const { transport } = h.transport({}, cfg);
      transport.start();
      await once(transport, 'connected');
      await transport.stop();
      assert.match(h.broker.log(), new RegExp(`New client connected from .* as ${id} `));
    }
  });

  test('connects without waiting for the clock (no JWT involved)', async () => {
    const { transport } = h.transport({ clock: { synced: () => false } });
    transport.start();
    await once(transport, 'connected');
    await transport.stop();
  });
});

describe('mqtt profile: TLS verification and credentials', () => {
  let tls: Harness & { broker: Mosquitto };
  let mtls: Harness & { broker: Mosquitto };
  let otherCa: TestCa;
  before(async () => {
    tls = await mosquittoHarness('tls', pki);
    mtls = await mosquittoHarness('mtls', pki);
    otherCa = await createTestCa('some-other-ca');
  });
  after(async () => {
    await tls.close();
    await mtls.close();
    await otherCa.remove();
  });

  async function refused(h: Harness, cfg: UplinkConfig, reason: RegExp): Promise<void> {
    const { transport, logger } = h.transport({}, cfg);
    let connected = false;
    transport.on('connected', () => (connected = true));
    transport.start();
    await sleep(700);
    await transport.stop();
    assert.equal(connected, false);
    const warned = logger.matching(/cannot connect/, 'warn');
    assert.ok(warned.length >= 1, 'the failure is logged');
    assert.match(warned[0]!, reason);
  }

  test('a broker certificate from another CA is refused', async () => {
    await refused(tls, withConfig(tls, { ca_file: otherCa.caCert }), /certificate|self.signed|verify/i);
  });

  test('without ca_file the system trust store is used, which does not know the test CA', async () => {
    await refused(tls, withConfig(tls, { ca_file: undefined }), /certificate|self.signed|verify/i);
  });

  test('a wrong password is refused', async () => {
    await refused(tls, withConfig(tls, { password: 'wrong' }), /not authorized|bad user name or password/);
  });

  test('mTLS: no client certificate, no connection', async () => {
    await refused(mtls, withConfig(mtls, { cert_file: undefined, key_file: undefined }), /./);
  });

  test('insecure: true connects without verification and warns at start and on every connect', async () => {
    const { transport, logger } = tls.transport({}, withConfig(tls, { ca_file: undefined, insecure: true }));
    transport.start();
    await once(transport, 'connected');
    tls.proxy.cut();
    await once(transport, 'disconnected');
    await once(transport, 'connected');
    await transport.stop();
    assert.equal(logger.matching(/DISABLED/, 'warn').length, 1);
    assert.equal(logger.matching(/WITHOUT verifying/, 'warn').length, 2);
  });
});
