// The Transport contract, run against every profile and broker (transport-shared.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ControlMessage, Transport } from '../../agent/core/uplink.js';
import { ConnectionLostError, NotConnectedError, PayloadTooLargeError } from '../../agent/uplink/errors.js';
import { once, waitUntil, type Harness } from './harness.js';

async function withTransport(h: Harness, body: (t: Transport) => Promise<void>): Promise<void> {
  const { transport } = h.transport();
  try {
    await body(transport);
  } finally {
    await transport.stop();
    h.proxy.setMode('forward');
    h.proxy.release();
  }
}

let unique = 0;
const mark = (what: string): Buffer => Buffer.from(JSON.stringify({ what, n: ++unique, at: Date.now() }));

export function transportSuite(setup: () => Promise<Harness>): void {
  let h: Harness;
  before(async () => {
    h = await setup();
  });
  after(async () => {
    await h?.close();
  });

  describe('Transport contract', () => {
    test('connects, emits connected once, and stops', async () => {
      await withTransport(h, async (t) => {
        let connects = 0;
        t.on('connected', () => connects++);
        assert.equal(t.connected, false);
        t.start();
        await once(t, 'connected');
        assert.equal(t.connected, true);
        assert.equal(t.maxEventBytes, 256 * 1024);
        await t.stop();
        assert.equal(t.connected, false);
        assert.equal(connects, 1);
      });
    });

    test('publishEvent resolves on PUBACK and the message reaches the cloud with QoS 1', async () => {
      await withTransport(h, async (t) => {
        t.start();
        await once(t, 'connected');
        const body = mark('event');
        await t.publishEvent(body);
        const got = await h.waitForPublish(h.topics.events, (m) => m.payload.equals(body));
        assert.equal(got.qos, 1);
        assert.equal(got.retain, false);
        const sub = mark('subfolder');
        await t.publishEvent(sub, 'diag');
        await h.waitForPublish(`${h.topics.events}/diag`, (m) => m.payload.equals(sub));
      });
    });

    test('publishState goes to the state topic, not retained', async () => {
      await withTransport(h, async (t) => {
        t.start();
        await once(t, 'connected');
        const body = mark('state');
        await t.publishState(body);
        const got = await h.waitForPublish(h.topics.state, (m) => m.payload.equals(body));
        assert.equal(got.qos, 1);
        assert.equal(got.retain, false);
      });
    });

    test('config and command messages reach the control listener with their kind', async () => {
      await withTransport(h, async (t) => {
        const got: ControlMessage[] = [];
        t.on('control', (m) => got.push(m));
        t.start();
        await once(t, 'connected');
        await h.sendControl('config', '{"probes":[]}');
        await h.sendControl('command', 'probe-now', 'probe');
        await waitUntil(() => got.length >= 2, 5000, 'two control messages');
        const config = got.find((m) => m.kind === 'config');
        const command = got.find((m) => m.kind === 'command');
        assert.equal(config?.topic, h.topics.config);
        assert.equal(config?.payload.toString(), '{"probes":[]}');
        assert.equal(command?.topic, `${h.topics.commandsFilter.slice(0, -2)}/probe`);
        assert.equal(command?.payload.toString(), 'probe-now');
      });
    });

    test('publishes are rejected at once while disconnected and never sent later', async () => {
      await withTransport(h, async (t) => {
        await assert.rejects(t.publishEvent(mark('before-start')), NotConnectedError);
        t.start();
        await once(t, 'connected');
        h.proxy.setMode('refuse');
        const down = once(t, 'disconnected');
        h.proxy.cut();
        await down;
        const body = mark('offline');
        const started = performance.now();
        await assert.rejects(t.publishEvent(body), NotConnectedError);
        await assert.rejects(t.publishState(body), NotConnectedError);
        assert.ok(performance.now() - started < 100, 'rejected without waiting');
        h.proxy.setMode('forward');
        await once(t, 'connected');
        const after = mark('after');
        await t.publishEvent(after);
        await h.waitForPublish(h.topics.events, (m) => m.payload.equals(after));
        assert.equal(h.published(h.topics.events).filter((m) => m.payload.equals(body)).length, 0, 'the offline publish was not queued');
      });
    });

    test('publishes in flight when the connection drops are rejected, then it reconnects by itself', async () => {
      await withTransport(h, async (t) => {
        const reasons: string[] = [];
        t.on('disconnected', (r) => reasons.push(r));
        t.start();
        await once(t, 'connected');
        h.proxy.hold(); // the broker's PUBACKs stop reaching the device
        const inflight = [t.publishEvent(mark('a')), t.publishEvent(mark('b'))];
        await new Promise((r) => setTimeout(r, 100));
        h.proxy.cut();
        h.proxy.release();
        for (const p of inflight) await assert.rejects(p, ConnectionLostError);
        await once(t, 'connected');
        assert.equal(reasons.length, 1);
        await t.publishEvent(mark('again'));
      });
    });

    test('stop waits for PUBACKs in flight', async () => {
      await withTransport(h, async (t) => {
        t.start();
        await once(t, 'connected');
        h.proxy.hold();
        const p = t.publishEvent(mark('slow-ack'));
        setTimeout(() => h.proxy.release(), 300);
        await t.stop();
        await p;
        await assert.rejects(t.publishEvent(mark('after-stop')), NotConnectedError);
      });
    });

    test('an event larger than maxEventBytes is refused before sending', async () => {
      await withTransport(h, async (t) => {
        t.start();
        await once(t, 'connected');
        await assert.rejects(t.publishEvent(Buffer.alloc(t.maxEventBytes + 1)), PayloadTooLargeError);
        await t.publishEvent(Buffer.alloc(t.maxEventBytes, 0x20));
      });
    });
  });
}
