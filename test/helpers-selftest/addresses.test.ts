import assert from 'node:assert/strict';
import { test } from 'node:test';
import { poolAddr4 } from '../helpers/address-plan.js';
import { useTestNet } from '../helpers/fixtures.js';
import type { TestNet } from '../helpers/netns.js';
import { fpingRef } from '../helpers/ping-ref.js';
import { run } from '../helpers/run.js';

let net: TestNet;
useTestNet((n) => (net = n));

test('2000 extra IPv4 addresses all answer fping, and only those do', async () => {
  const started = Date.now();
  const addrs = await net.addAddresses(2000);
  const setupMs = Date.now() - started;
  assert.equal(new Set(addrs).size, 2000);
  assert.ok(setupMs < 5000, `bulk setup took ${setupMs} ms`);

  // The next pool addresses are routed to the far side but not configured there.
  const absent = [2000, 2001, 2002].map((i) => poolAddr4(net.plan.slot, i));
  const res = await fpingRef([...addrs, ...absent], { count: 1, intervalMs: 0.1, timeoutMs: 500 });
  const answered = addrs.filter((a) => res.targets.get(a)?.received === 1);
  assert.equal(answered.length, 2000, `only ${answered.length} of 2000 answered`);
  for (const a of absent) assert.equal(res.targets.get(a)?.received, 0, `${a} answered but was never added`);
});

test('pool addresses are routed, not on-link: one route, one neighbour entry', async () => {
  const { stdout: routeOut } = await run('ip', ['route', 'show', 'dev', net.rootLink]);
  assert.equal(routeOut.trim().split('\n').length, 2, `expected link /30 + block route:\n${routeOut}`);
  const { stdout: neigh } = await run('ip', ['-4', 'neigh', 'show', 'dev', net.rootLink]);
  assert.ok(neigh.trim().split('\n').filter(Boolean).length <= 1, neigh);
});

test('IPv6 pool addresses answer too, and addAddresses accumulates', async () => {
  const first = await net.addAddresses(100, 6);
  const second = await net.addAddresses(100, 6);
  assert.equal(new Set([...first, ...second]).size, 200);
  const res = await fpingRef([...first, ...second], { count: 1, intervalMs: 0.1, timeoutMs: 500 });
  const answered = [...res.targets.values()].filter((t) => t.received === 1).length;
  assert.equal(answered, 200);
});
