// The real reconnect loop with millisecond timings: capped exponential growth, full jitter,
// reset after a stable connection, and one log line per outage instead of one per retry.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Mosquitto } from '../helpers/mosquitto.js';
import { mosquittoHarness, once, waitUntil, type Harness } from './harness.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]!);

describe('reconnect backoff', () => {
  let h: Harness & { broker: Mosquitto };
  before(async () => (h = await mosquittoHarness('plain')));
  after(async () => h.close());

  test('grows exponentially from min and caps at max (jitter pinned to its top)', async () => {
    h.proxy.setMode('refuse');
    const from = h.proxy.accepted.length;
    const { transport, logger } = h.transport({ random: () => 0.9999, timing: { backoffMinMs: 40, backoffMaxMs: 320, stableMs: 10_000 } });
    transport.start();
    await waitUntil(() => h.proxy.accepted.length >= from + 8, 5000, '8 attempts');
    await transport.stop();
    h.proxy.setMode('forward');
    const g = gaps(h.proxy.accepted.slice(from, from + 8));
    const expected = [40, 80, 160, 320, 320, 320, 320];
    g.forEach((gap, i) => {
      assert.ok(gap >= expected[i]! - 2 && gap <= expected[i]! + 60, `gap ${i} was ${gap.toFixed(1)} ms, expected about ${expected[i]} (all: ${g.map((x) => x.toFixed(0)).join(', ')})`);
    });
    // One warning for the outage; each retry only at debug level.
    assert.equal(logger.matching(/cannot connect/, 'warn').length, 1);
    assert.ok(logger.matching(/connect attempt \d+ failed/, 'debug').length >= 6);
  });

  test('full jitter: delays spread uniformly below the ceiling', async () => {
    h.proxy.setMode('refuse');
    const from = h.proxy.accepted.length;
    const { transport } = h.transport({ timing: { backoffMinMs: 20, backoffMaxMs: 80 } });
    transport.start();
    await waitUntil(() => h.proxy.accepted.length >= from + 25, 10_000, '25 attempts');
    await transport.stop();
    h.proxy.setMode('forward');
    const g = gaps(h.proxy.accepted.slice(from + 3, from + 25)); // past the ramp: ceiling 80 ms
    const mean = g.reduce((a, b) => a + b, 0) / g.length;
    const sd = Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / g.length);
    assert.ok(Math.max(...g) <= 80 + 40, `max gap ${Math.max(...g)} above the cap`);
    assert.ok(Math.min(...g) < 30, `no short delays (min ${Math.min(...g).toFixed(1)}): not jittered`);
    assert.ok(sd > 10, `delays barely vary (sd ${sd.toFixed(1)} ms): not jittered`);
    assert.ok(mean > 25 && mean < 70, `mean ${mean.toFixed(1)} ms, expected about 40 (uniform in 0..80)`);
  });

  test('a connection that stayed up for stableMs resets the backoff; a short one does not', async () => {
    const timing = { backoffMinMs: 100, backoffMaxMs: 1600, stableMs: 400 };
    const { transport } = h.transport({ random: () => 0.9999, timing });
    h.proxy.setMode('refuse');
    const from = h.proxy.accepted.length;
    transport.start();
    await waitUntil(() => h.proxy.accepted.length >= from + 4, 5000, '4 refused attempts'); // ceiling now 800
    h.proxy.setMode('forward');
    await once(transport, 'connected', 5000);

    // Short-lived: the next delay keeps growing (1600).
    let cutAt = performance.now();
    let down = once(transport, 'disconnected');
    h.proxy.cut();
    await down;
    await once(transport, 'connected', 5000);
    const afterShort = h.proxy.accepted.at(-1)! - cutAt;
    assert.ok(afterShort >= 1500, `reconnected ${afterShort.toFixed(0)} ms after a short connection; backoff was reset too early`);

    await sleep(timing.stableMs + 100);
    cutAt = performance.now();
    down = once(transport, 'disconnected');
    h.proxy.cut();
    await down;
    await once(transport, 'connected', 5000);
    const afterStable = h.proxy.accepted.at(-1)! - cutAt;
    assert.ok(afterStable < 300, `reconnected ${afterStable.toFixed(0)} ms after a stable connection; expected the reset delay (<= 100 ms)`);
    await transport.stop();
  });

  test('a broker that accepts TCP but never answers times out and is retried', async () => {
    h.proxy.setMode('blackhole');
    const from = h.proxy.accepted.length;
    const { transport, logger } = h.transport({ timing: { connectTimeoutMs: 200, backoffMinMs: 20, backoffMaxMs: 40 } });
    transport.start();
    await waitUntil(() => h.proxy.accepted.length >= from + 3, 3000, '3 attempts');
    await transport.stop();
    h.proxy.setMode('forward');
    h.proxy.cut();
    assert.match(logger.matching(/cannot connect/, 'warn')[0] ?? '', /no CONNACK within 200 ms/, JSON.stringify(logger.lines));
  });

  test('stop() while a connection attempt hangs returns at once', async () => {
    h.proxy.setMode('blackhole');
    const { transport } = h.transport({ timing: { connectTimeoutMs: 10_000 } });
    const from = h.proxy.accepted.length;
    transport.start();
    await waitUntil(() => h.proxy.accepted.length > from, 2000, 'the attempt');
    const started = performance.now();
    await transport.stop();
    h.proxy.setMode('forward');
    h.proxy.cut();
    assert.ok(performance.now() - started < 200);
  });

  test('stop() during a long backoff wait returns at once', async () => {
    h.proxy.setMode('refuse');
    const { transport } = h.transport({ random: () => 0.9999, timing: { backoffMinMs: 60_000, backoffMaxMs: 60_000 } });
    const from = h.proxy.accepted.length;
    transport.start();
    await waitUntil(() => h.proxy.accepted.length > from, 2000, 'the first attempt');
    await sleep(50);
    const started = performance.now();
    await transport.stop();
    h.proxy.setMode('forward');
    assert.ok(performance.now() - started < 200);
  });
});
