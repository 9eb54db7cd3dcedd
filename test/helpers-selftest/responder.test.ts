import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestNet } from '../helpers/fixtures.js';
import { TestNet } from '../helpers/netns.js';
import { fpingRef, pingRef } from '../helpers/ping-ref.js';
import { startResponder } from '../helpers/responder-control.js';

let net: TestNet;
useTestNet((n) => (net = n));

function median(values: (number | null)[]): number {
  const v = values.filter((x): x is number => x !== null).sort((a, b) => a - b);
  assert.ok(v.length > 0, 'no replies at all');
  return v[Math.floor(v.length / 2)] ?? NaN;
}

test('a 20 ms responder measures 20 ms in ping, on both families', async () => {
  const r = await startResponder(net, { delayMs: 20 });
  try {
    const p4 = await pingRef(net.hostAddr4, { count: 20, intervalS: 0.03 });
    const p6 = await pingRef(net.hostAddr6, { count: 20, intervalS: 0.03 });
    assert.equal(p4.received, 20, p4.output);
    assert.equal(p6.received, 20, p6.output);
    for (const p of [p4, p6]) {
      const m = median(p.rtts);
      assert.ok(Math.abs(m - 20) <= 3, `median ${m} ms`);
      assert.equal(p.duplicates, 0, 'the kernel must not answer as well');
    }
  } finally {
    const stats = await r.stop();
    assert.equal(stats.requests, 40);
  }
  const kernel = await pingRef(net.hostAddr4, { count: 3, intervalS: 0.01 });
  assert.ok(median(kernel.rtts) < 5, 'the kernel answers again after stop()');
});

test('--dup 1 makes ping report duplicates', async () => {
  const r = await startResponder(net, { delayMs: 2, dup: 1, family: 4 });
  try {
    const p = await pingRef(net.hostAddr4, { count: 10, intervalS: 0.02 });
    assert.equal(p.received, 10, p.output);
    // ping exits as soon as the last original reply arrives, so its duplicate may be missed.
    assert.ok(p.duplicates >= 9, `duplicates: ${p.duplicates}\n${p.output}`);
  } finally {
    await r.stop();
  }
});

test('jitter spreads the delay uniformly around the mean', async () => {
  const r = await startResponder(net, { delayMs: 10, jitterMs: 5, family: 4 });
  try {
    const p = await pingRef(net.hostAddr4, { count: 40, intervalS: 0.01 });
    const rtts = p.rtts.filter((x): x is number => x !== null);
    assert.equal(rtts.length, 40, p.output);
    assert.ok(Math.min(...rtts) >= 4.5, `min ${Math.min(...rtts)}`);
    assert.ok(Math.max(...rtts) - Math.min(...rtts) > 4, `spread too small: ${rtts.join(' ')}`);
    assert.ok(Math.abs(median(rtts) - 10) <= 3, `median ${median(rtts)}`);
  } finally {
    await r.stop();
  }
});

test('IPv4 replies come from the pinged pool address, so fping accepts them', async () => {
  const addrs = await net.addAddresses(50);
  const r = await startResponder(net, { delayMs: 5, family: 4 });
  try {
    const res = await fpingRef(addrs, { count: 2, periodMs: 50, intervalMs: 0.2 });
    for (const a of addrs) {
      const t = res.targets.get(a);
      assert.equal(t?.received, 2, `${a}: ${JSON.stringify(t)}`);
      assert.ok((t?.rtts ?? []).every((x) => x !== null && x >= 4.5), `${a}: ${t?.rtts.join(' ')}`);
    }
  } finally {
    await r.stop();
  }
});

test('a responder is killed with its namespace', async () => {
  const other = await TestNet.create({ ipv6: false });
  const r = await startResponder(other, { family: 4 });
  await other.destroy();
  await r.stop();
  assert.throws(() => process.kill(r.pid, 0), /ESRCH/);
});
