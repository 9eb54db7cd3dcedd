// ICMP errors, silence, foreign traffic, IPv6 and scale, against real test hosts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import raw from 'raw-socket';
import type { IcmpProbeSpec } from '../../agent/core/probe.js';
import { probeResultSchema, type ProbeResult } from '../../agent/core/result.js';
import type { EngineClient } from '../../agent/probe/icmp/engine-client.js';
import type { IcmpProber } from '../../agent/probe/icmp/icmp-prober.js';
import { checksum } from '../../agent/probe/icmp/packet.js';
import { useProber } from '../helpers/fixtures.js';
import type { TestNet } from '../helpers/netns.js';

let net: TestNet;
let engine: EngineClient;
let prober: IcmpProber;
useProber((f) => ({ net, engine, prober } = f));

function spec(target: string, over: Partial<IcmpProbeSpec> = {}): IcmpProbeSpec {
  return { name: target, target, family: null, count: 3, size: 56, interval_ms: 20, timeout_ms: 500, ...over };
}

async function one(s: IcmpProbeSpec): Promise<ProbeResult> {
  const [r] = await prober.runRound([s], new Date());
  return probeResultSchema.parse(r);
}

/** An address inside a prefix: the prefix's base with its last part set to `last`. */
function inside(cidr: string, last: string): string {
  const base = cidr.split('/')[0]!;
  return base.includes(':') ? `${base.replace(/::?$/, '')}::${last}` : base.replace(/\.\d+$/, `.${last}`);
}

test('an unreachable network yields ICMP errors with type, code and the reporting router', async () => {
  const cidr = net.spareCidr(4);
  await net.addUnreachable(cidr, 'net');
  const r = await one(spec(inside(cidr, '7')));
  assert.equal(r.sent, 3);
  assert.equal(r.received, 0);
  assert.equal(r.loss_pct, 100);
  assert.deepEqual(r.errors, [{ kind: 'icmp', type: 3, code: 0, from: net.hostAddr4, message: 'Destination Net Unreachable', count: 3 }]);
});

test('administratively prohibited and IPv6 unreachable are distinct outcomes with their codes', async () => {
  const cidr = net.spareCidr(4);
  await net.addAdminProhibited(cidr);
  const r4 = await one(spec(inside(cidr, '9'), { count: 2 }));
  assert.equal(r4.errors[0]?.type, 3);
  assert.equal(r4.errors[0]?.code, 13);
  assert.equal(r4.errors[0]?.count, 2);
  const cidr6 = net.spareCidr(6);
  await net.addUnreachable(cidr6, 'net');
  const r6 = await one(spec(inside(cidr6, '5'), { count: 2 }));
  assert.equal(r6.family, 6);
  assert.equal(r6.received, 0);
  assert.equal(r6.errors[0]?.kind, 'icmp');
  assert.equal(r6.errors[0]?.type, 1);
  assert.equal(r6.errors[0]?.code, 0);
  assert.equal(r6.errors[0]?.from, net.hostAddr6);
});

test('a silent host times out: all lost, no errors, the round ends after the last timeout', async () => {
  await net.dropEchoRequests(true);
  try {
    const t0 = performance.now();
    const r = await one(spec(net.hostAddr4, { count: 3, interval_ms: 100, timeout_ms: 300 }));
    const took = performance.now() - t0;
    assert.equal(r.sent, 3);
    assert.equal(r.received, 0);
    assert.equal(r.late, 0);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.rtts_ms, [null, null, null]);
    assert.ok(took >= 500, `round ended after ${took} ms, before the last packet's timeout`);
  } finally {
    await net.dropEchoRequests(false);
  }
});

test('IPv6: echo over ICMPv6 with hop limit, to a namespace host and to ::1', async () => {
  const r = await one(spec(net.hostAddr6, { count: 5, interval_ms: 10 }));
  assert.equal(r.family, 6);
  assert.equal(r.received, 5);
  assert.equal(r.ttl, 64);
  const lo = await one(spec('::1', { count: 3, interval_ms: 10 }));
  assert.equal(lo.received, 3);
  // (Whether localhost has an IPv6 entry depends on /etc/hosts; the IPv4 one is standard.)
  const forced = await one(spec('localhost', { family: 4, count: 1 }));
  assert.equal(forced.address, '127.0.0.1');
  assert.equal(forced.family, 4);
});

test('payload sizes from the minimum to a full IPv4 datagram', async () => {
  for (const size of [16, 1400, 9000, 65507]) {
    const r = await one(spec('127.0.0.1', { size, count: 2, interval_ms: 10 }));
    assert.equal(r.received, 2, `size ${size}`);
    assert.equal(r.size, size);
  }
});

test('foreign ICMP on the host is never mistaken for ours', async () => {
  // A concurrent ping to the same target, and forged replies that carry our identifier
  // and plausible sequence numbers but not our cookie, or a broken checksum.
  const ping = spawn('ping', ['-n', '-q', '-i', '0.002', '-c', '800', net.hostAddr4], { stdio: 'ignore' });
  const forger = raw.createSocket({ protocol: raw.Protocol.ICMP });
  const before = await engine.counters();
  const forged = setInterval(() => {
    for (let seq = 1; seq <= 400; seq += 37) {
      const pkt = Buffer.alloc(8 + 56, 0xa5);
      pkt[0] = 0;
      pkt.writeUInt16BE(engine.identifier!, 4);
      pkt.writeUInt16BE(seq, 6);
      pkt.writeUInt16BE(checksum(pkt), 2);
      forger.send(pkt, 0, pkt.length, '127.0.0.1', () => undefined);
      const bad = Buffer.from(pkt);
      bad.writeUInt16BE(bad.readUInt16BE(2) ^ 0x0101, 2);
      forger.send(bad, 0, bad.length, '127.0.0.1', () => undefined);
    }
  }, 5);
  try {
    const [a, b] = await prober.runRound([spec(net.hostAddr4, { count: 200, interval_ms: 5 }), spec('127.0.0.1', { count: 200, interval_ms: 5 })], new Date());
    for (const r of [a!, b!]) {
      assert.equal(r.sent, 200);
      assert.equal(r.received, 200);
      assert.equal(r.duplicates, 0);
      assert.equal(r.late, 0);
    }
  } finally {
    clearInterval(forged);
    forger.close();
    ping.kill();
  }
  const c = await engine.counters();
  assert.ok(c.foreign - before.foreign > 100, `foreign replies seen: ${c.foreign - before.foreign}`);
  assert.ok(c.bad_checksum - before.bad_checksum > 100, `bad checksums seen: ${c.bad_checksum - before.bad_checksum}`);
});

test('1,000 targets in one round, paced, all answered', async () => {
  const targets = await net.addAddresses(1000);
  const t0 = performance.now();
  const results = await prober.runRound(targets.map((t) => spec(t, { count: 2, interval_ms: 1000, timeout_ms: 1000 })), new Date());
  const took = performance.now() - t0;
  assert.equal(results.length, 1000);
  assert.equal(new Set(results.map((r) => r.address)).size, 1000);
  const received = results.reduce((n, r) => n + r.received, 0);
  assert.equal(received, 2000);
  // Spread across one interval: the last target starts ~1 s after the first, so a round
  // of two packets 1 s apart takes about 2 s, not 1 s (a burst) and not 1,000 s (serial).
  assert.ok(took > 1900 && took < 6000, `round took ${took} ms`);
});
