// The per-resolution address guard in the ICMP prober: a refused address becomes a resolve
// error (EPOLICY) and never reaches the engine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IcmpProbeSpec } from '../../agent/core/probe.js';
import { IcmpProber, type EchoRunner } from '../../agent/probe/icmp/icmp-prober.js';
import type { EchoJob, EchoOutcome } from '../../agent/probe/icmp/engine-protocol.js';
import { Resolver } from '../../agent/probe/resolve.js';

class RecordingEngine implements EchoRunner {
  readonly jobs: Array<Omit<EchoJob, 'id'>> = [];
  async run(jobs: readonly Omit<EchoJob, 'id'>[]): Promise<EchoOutcome[]> {
    this.jobs.push(...jobs);
    return jobs.map((j, id) => ({ id, sent: j.count, rtts_us: Array<number>(j.count).fill(100), duplicates: 0, late: 0, ttl: 64, errors: [] }));
  }
  flush(): void {}
  async close(): Promise<void> {}
}

const spec = (name: string, target: string, guard?: IcmpProbeSpec['guard']): IcmpProbeSpec => ({ name, target, family: null, count: 2, size: 56, interval_ms: 10, timeout_ms: 100, ...(guard ? { guard } : {}) });

test('a guard that refuses the resolved address: resolve error EPOLICY, nothing sent; others in the round go ahead', async () => {
  const engine = new RecordingEngine();
  const resolver = new Resolver(async (host) => ({ address: host === 'inside.example' ? '192.0.2.8' : '10.9.9.9', family: 4 }));
  const prober = new IcmpProber(engine, resolver);
  const guard = (address: string): string | null => (address.startsWith('192.0.2.') ? null : `${address} is outside allow_cidrs`);
  const results = await prober.runRound([spec('out', 'outside.example', guard), spec('in', 'inside.example', guard), spec('literal', '10.1.1.1', guard), spec('unguarded', '10.9.9.9')], new Date());
  assert.deepEqual(engine.jobs.map((j) => j.address), ['192.0.2.8', '10.9.9.9']);
  const [out, inside, literal, unguarded] = results;
  assert.deepEqual(out!.errors, [{ kind: 'resolve', code: 'EPOLICY', message: 'outside.example (10.9.9.9): refused by the safety policy: 10.9.9.9 is outside allow_cidrs', count: 1 }]);
  assert.equal(out!.sent, 0);
  assert.equal(out!.address, null);
  assert.equal(out!.loss_pct, 100);
  assert.equal(inside!.received, 2);
  assert.equal(literal!.errors[0]!.message, '10.1.1.1: refused by the safety policy: 10.1.1.1 is outside allow_cidrs');
  assert.equal(unguarded!.received, 2);
});

test('a guard that throws refuses: sending is the side that cannot be taken back', async () => {
  const engine = new RecordingEngine();
  const prober = new IcmpProber(engine, new Resolver());
  const [r] = await prober.runRound([spec('x', '127.0.0.1', () => { throw new Error('boom'); })], new Date());
  assert.equal(engine.jobs.length, 0);
  assert.equal(r!.errors[0]!.code, 'EPOLICY');
  assert.match(r!.errors[0]!.message, /address check failed: boom/);
});
