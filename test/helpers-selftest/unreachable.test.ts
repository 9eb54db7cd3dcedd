import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestNet } from '../helpers/fixtures.js';
import type { TestNet } from '../helpers/netns.js';
import { pingRef, type PingRefResult } from '../helpers/ping-ref.js';

let net: TestNet;
useTestNet((n) => (net = n));

/** First host of a spare prefix: "198.18.1.0/24" -> "198.18.1.1", "fd66:...:102::/64" -> "fd66:...:102::1". */
function firstHost(cidr: string): string {
  const base = cidr.split('/')[0] ?? '';
  return base.endsWith('::') ? `${base}1` : base.replace(/\.0$/, '.1');
}

// More packets than the kernel's default ICMP error burst, to prove errors are not rate limited.
const opts = { count: 10, intervalS: 0.01, timeoutS: 0.5 };

function assertAllErrors(res: PingRefResult, message: string): void {
  assert.equal(res.received, 0, res.output);
  assert.equal(res.icmpErrors.length, opts.count, res.output);
  for (const e of res.icmpErrors) {
    assert.equal(e.message, message);
    assert.equal(e.from, res.target.includes(':') ? net.hostAddr6 : net.hostAddr4, 'the far host acts as the router');
  }
}

test('addUnreachable answers with ICMP net unreachable (v4) / no route (v6)', async () => {
  const c4 = net.spareCidr(4);
  const c6 = net.spareCidr(6);
  await net.addUnreachable(c4);
  await net.addUnreachable(c6);
  assertAllErrors(await pingRef(firstHost(c4), opts), 'Destination Net Unreachable');
  assertAllErrors(await pingRef(firstHost(c6), opts), 'Destination unreachable: No route');
});

test("addUnreachable(cidr, 'host') answers with host / address unreachable", async () => {
  const c4 = net.spareCidr(4);
  const c6 = net.spareCidr(6);
  await net.addUnreachable(c4, 'host');
  await net.addUnreachable(c6, 'host');
  assertAllErrors(await pingRef(firstHost(c4), opts), 'Destination Host Unreachable');
  assertAllErrors(await pingRef(firstHost(c6), opts), 'Destination unreachable: Address unreachable');
});

test('addAdminProhibited answers with communication administratively prohibited', async () => {
  const c4 = net.spareCidr(4);
  const c6 = net.spareCidr(6);
  await net.addAdminProhibited(c4);
  await net.addAdminProhibited(c6);
  // iputils prints v4 code 13 as "Packet filtered".
  assertAllErrors(await pingRef(firstHost(c4), opts), 'Packet filtered');
  assertAllErrors(await pingRef(firstHost(c6), opts), 'Destination unreachable: Administratively prohibited');
});

test('prefixes outside the instance block are refused', async () => {
  await assert.rejects(net.addUnreachable('192.0.2.0/24'), /not inside/);
  await assert.rejects(net.addUnreachable('198.19.200.0/24'), /not inside/);
  await assert.rejects(net.addAdminProhibited('fd00::/64'), /not inside/);
});
