import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  POOL4_CAPACITY,
  SLOT_COUNT,
  V4_RANGE,
  V6_RANGE,
  assertTestRange,
  canonicalIpv6,
  cidrContains,
  planSlot,
  poolAddr4,
  poolAddr6,
  spareCidr4,
  spareCidr6,
} from '../helpers/address-plan.js';

test('every slot stays inside the test ranges and no two slots overlap', () => {
  const blocks4 = new Set<string>();
  for (let s = 0; s < SLOT_COUNT; s++) {
    const p = planSlot(s);
    assert.ok(cidrContains(V4_RANGE, p.block4), p.block4);
    assert.ok(cidrContains(V6_RANGE, p.block6), p.block6);
    for (const addr of [p.localAddr4, p.hostAddr4]) assert.ok(cidrContains(p.block4, `${addr}/32`));
    for (const addr of [p.localAddr6, p.hostAddr6]) assert.ok(cidrContains(p.block6, `${addr}/128`));
    for (const other of blocks4) assert.ok(!cidrContains(other, p.block4) && !cidrContains(p.block4, other));
    blocks4.add(p.block4);
    assert.ok(p.rootLink.length <= 15, 'interface names are limited to 15 characters');
  }
});

test('the IPv4 pool holds more than 5000 distinct host addresses inside the slot block', () => {
  assert.ok(POOL4_CAPACITY >= 5000);
  const seen = new Set<string>();
  const { block4, hostAddr4, localAddr4 } = planSlot(3);
  for (let i = 0; i < POOL4_CAPACITY; i++) {
    const a = poolAddr4(3, i);
    assert.ok(!a.endsWith('.0') && !a.endsWith('.255'), a);
    assert.ok(cidrContains(block4, `${a}/32`), a);
    seen.add(a);
  }
  assert.equal(seen.size, POOL4_CAPACITY);
  assert.ok(!seen.has(hostAddr4) && !seen.has(localAddr4));
  for (let k = 0; k < 7; k++) {
    const spare = spareCidr4(3, k);
    assert.ok(cidrContains(block4, spare));
    assert.ok(![...seen].some((a) => cidrContains(spare, `${a}/32`)), `${spare} overlaps the pool`);
  }
  assert.throws(() => poolAddr4(3, POOL4_CAPACITY), RangeError);
});

test('IPv6 addresses are generated in canonical (inet_ntop) form', () => {
  for (const s of [0, 5, SLOT_COUNT - 1]) {
    const p = planSlot(s);
    for (const a of [p.localAddr6, p.hostAddr6, poolAddr6(s, 0), poolAddr6(s, 4095), poolAddr6(s, 0xfffe)]) {
      assert.equal(canonicalIpv6(a), a);
    }
    assert.ok(cidrContains(p.block6, spareCidr6(s, 0)));
    assert.ok(!cidrContains(spareCidr6(s, 0), `${poolAddr6(s, 0)}/128`));
  }
});

test('assertTestRange refuses anything that could leave the machine', () => {
  for (const ok of ['198.18.0.1', '198.19.255.254', 'fd66:7072:6f62:100::2', '198.18.8.0/24']) assertTestRange(ok);
  for (const bad of ['192.0.2.1', '8.8.8.8', '198.20.0.1', 'fd00::1', '2001:db8::1', '198.16.0.0/13']) {
    assert.throws(() => assertTestRange(bad), /outside the test ranges/, bad);
  }
});
