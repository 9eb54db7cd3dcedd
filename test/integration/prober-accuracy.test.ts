// RTT accuracy, loss, duplicates and late replies, measured for real: raw sockets, a test
// host in a network namespace, nftables for loss, a responder for delay and duplicates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IcmpProbeSpec } from '../../agent/core/probe.js';
import type { ProbeResult } from '../../agent/core/result.js';
import { probeResultSchema } from '../../agent/core/result.js';
import type { EngineClient } from '../../agent/probe/icmp/engine-client.js';
import type { IcmpProber } from '../../agent/probe/icmp/icmp-prober.js';
import { useProber } from '../helpers/fixtures.js';
import type { TestNet } from '../helpers/netns.js';
import { pingRef } from '../helpers/ping-ref.js';
import { startResponder } from '../helpers/responder-control.js';

let net: TestNet;
let engine: EngineClient;
let prober: IcmpProber;
useProber((f) => ({ net, engine, prober } = f));

function spec(target: string, over: Partial<IcmpProbeSpec> = {}): IcmpProbeSpec {
  return { name: target, target, family: null, count: 4, size: 56, interval_ms: 10, timeout_ms: 1000, ...over };
}

async function one(s: IcmpProbeSpec): Promise<ProbeResult> {
  const [r] = await prober.runRound([s], new Date());
  return probeResultSchema.parse(r);
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

test('RTTs agree with iputils ping on the same path (kernel replies)', async () => {
  const [ours, ref] = await Promise.all([one(spec(net.hostAddr4, { count: 200, interval_ms: 5 })), pingRef(net.hostAddr4, { count: 200, intervalS: 0.005 })]);
  assert.equal(ours.received, 200);
  const got = ours.rtts_ms.filter((r): r is number => r !== null);
  const theirs = ref.rtts.filter((r): r is number => r !== null);
  // Sub-millisecond path: the two medians are within a quarter of a millisecond.
  assert.ok(Math.abs(median(got) - median(theirs)) < 0.25, `fleetprobe ${median(got)} ms vs ping ${median(theirs)} ms`);
  const c = await engine.counters();
  assert.ok(c.kernel_stamps >= 200, `kernel timestamps used: ${JSON.stringify(c)}`);
});

test('RTTs follow a responder delay, and agree with ping through it', async () => {
  const responder = await startResponder(net, { delayMs: 20, family: 4 });
  try {
    const [ours, ref] = await Promise.all([one(spec(net.hostAddr4, { count: 40, interval_ms: 50 })), pingRef(net.hostAddr4, { count: 40, intervalS: 0.05 })]);
    assert.equal(ours.received, 40);
    assert.ok(ours.median_ms! >= 20 && ours.median_ms! < 22, `median ${ours.median_ms} ms for a 20 ms responder`);
    assert.ok(ours.min_ms! >= 20, `min ${ours.min_ms} ms below the responder's delay`);
    const theirs = median(ref.rtts.filter((r): r is number => r !== null));
    assert.ok(Math.abs(ours.median_ms! - theirs) < 0.5, `fleetprobe ${ours.median_ms} ms vs ping ${theirs} ms`);
  } finally {
    await responder.stop();
  }
});

test('statistics of a round are consistent with its per-packet RTTs', async () => {
  const r = await one(spec(net.hostAddr4, { count: 20, interval_ms: 5 }));
  const rtts = r.rtts_ms.filter((x): x is number => x !== null);
  assert.equal(r.min_ms, Math.min(...rtts));
  assert.equal(r.max_ms, Math.max(...rtts));
  assert.ok(Math.abs(r.avg_ms! - rtts.reduce((a, b) => a + b, 0) / rtts.length) <= 0.001);
  assert.equal(r.ttl, 64);
  assert.equal(r.address, net.hostAddr4);
  assert.equal(r.size, 56);
});

test('loss: 0% loses nothing, 20% stays within binomial bounds, 100% loses everything', async () => {
  const targets = await net.addAddresses(20);
  const run = async (): Promise<{ sent: number; received: number; results: ProbeResult[] }> => {
    const results = await prober.runRound(targets.map((t) => spec(t, { count: 50, interval_ms: 5, timeout_ms: 300 })), new Date());
    return { sent: results.reduce((n, r) => n + r.sent, 0), received: results.reduce((n, r) => n + r.received, 0), results };
  };
  const none = await run();
  assert.equal(none.sent, 1000);
  assert.equal(none.received, 1000);
  await net.setLoss(20);
  try {
    const some = await run();
    const lost = some.sent - some.received;
    // Binomial(1000, 0.2): mean 200, sd 12.6; +-5 sd keeps a false failure below 1e-6.
    assert.ok(lost >= 137 && lost <= 263, `lost ${lost} of 1000 at 20%`);
    for (const r of some.results) assert.equal(r.loss_pct, Math.round(((r.sent - r.received) / r.sent) * 100000) / 1000);
    await net.setLoss(100);
    const all = await run();
    assert.equal(all.received, 0);
    for (const r of all.results) {
      assert.equal(r.loss_pct, 100);
      assert.equal(r.min_ms, null);
      assert.equal(r.median_ms, null);
      assert.ok(r.rtts_ms.every((x) => x === null));
    }
  } finally {
    await net.setLoss(0);
  }
});

test('duplicates are counted once each and never as extra replies', async () => {
  const responder = await startResponder(net, { delayMs: 1, dup: 1, family: 4 });
  try {
    const r = await one(spec(net.hostAddr4, { count: 10, interval_ms: 50, timeout_ms: 500 }));
    assert.equal(r.sent, 10);
    assert.equal(r.received, 10);
    assert.equal(r.loss_pct, 0);
    // The last duplicate can arrive after the round ended (ping misses it the same way).
    assert.ok(r.duplicates >= 9 && r.duplicates <= 10, `duplicates ${r.duplicates}`);
  } finally {
    await responder.stop();
  }
});

test('late replies (after the timeout) are lost and counted as late', async () => {
  const responder = await startResponder(net, { delayMs: 250, family: 4 });
  try {
    // Replies at 250, 450, 650, 850 ms arrive while the round is still open (it ends at
    // 900 ms, the last packet's timeout); the fifth arrives after it ended.
    const r = await one(spec(net.hostAddr4, { count: 5, interval_ms: 200, timeout_ms: 100 }));
    assert.equal(r.received, 0);
    assert.equal(r.loss_pct, 100);
    assert.ok(r.late >= 3 && r.late <= 4, `late ${r.late}`);
    assert.ok(r.rtts_ms.every((x) => x === null));
  } finally {
    await responder.stop();
  }
});
