import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useTestNet } from '../helpers/fixtures.js';
import type { TestNet } from '../helpers/netns.js';
import { pingRef } from '../helpers/ping-ref.js';

let net: TestNet;
useTestNet((n) => (net = n));

const fast = { count: 20, intervalS: 0.005, timeoutS: 0.3 };

test('setLoss(100) drops every reply on both families, setLoss(0) restores them', async () => {
  await net.setLoss(100);
  const lost4 = await pingRef(net.hostAddr4, fast);
  const lost6 = await pingRef(net.hostAddr6, fast);
  assert.equal(lost4.received, 0, lost4.output);
  assert.equal(lost6.received, 0, lost6.output);
  assert.equal(lost4.lossPct, 100);
  assert.ok(lost4.rtts.every((r) => r === null));

  await net.setLoss(0);
  const back4 = await pingRef(net.hostAddr4, fast);
  const back6 = await pingRef(net.hostAddr6, fast);
  assert.equal(back4.lossPct, 0, back4.output);
  assert.equal(back6.lossPct, 0, back6.output);
});

test('setLoss(30) drops roughly 30 % of replies', async () => {
  await net.setLoss(30);
  try {
    const res = await pingRef(net.hostAddr4, { count: 400, intervalS: 0.001, timeoutS: 0.3 });
    // Binomial(400, 0.3): sd is about 9 packets, so 80..160 lost is a > 4 sd window.
    const lost = res.transmitted - res.received;
    assert.ok(lost >= 80 && lost <= 160, `lost ${lost} of ${res.transmitted}`);
  } finally {
    await net.setLoss(0);
  }
});

test('dropEchoRequests makes the host silent; ignoreEcho(true) silences the kernel only', async () => {
  await net.dropEchoRequests(true);
  assert.equal((await pingRef(net.hostAddr4, fast)).received, 0);
  assert.equal((await pingRef(net.hostAddr6, fast)).received, 0);
  await net.dropEchoRequests(false);
  assert.equal((await pingRef(net.hostAddr4, fast)).received, fast.count);

  await net.ignoreEcho(true);
  assert.equal((await pingRef(net.hostAddr4, fast)).received, 0);
  assert.equal((await pingRef(net.hostAddr6, fast)).received, 0);
  await net.ignoreEcho(false);
  assert.equal((await pingRef(net.hostAddr6, fast)).received, fast.count);
});
