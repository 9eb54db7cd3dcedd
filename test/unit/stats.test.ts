import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossPct, rttStats } from '../../agent/probe/icmp/stats.js';

test('stats follow iputils (population mdev) and the record definitions', () => {
  // RTTs in µs: 1.000, 3.000, lost, 2.000, 6.000 ms
  const s = rttStats([1000, 3000, null, 2000, 6000]);
  assert.equal(s.min_ms, 1);
  assert.equal(s.max_ms, 6);
  assert.equal(s.avg_ms, 3);
  // population deviation of 1,3,2,6 around 3: sqrt((4+0+1+9)/4)
  assert.equal(s.mdev_ms, Math.round(Math.sqrt(14 / 4) * 1000) / 1000);
  assert.equal(s.median_ms, 2.5); // mean of the two middle values
  // consecutive received, lost skipped: |3-1| + |2-3| + |6-2| over 3
  assert.equal(s.jitter_ms, Math.round((7 / 3) * 1000) / 1000);
});

test('odd count median, one reply has no jitter, none received is all null', () => {
  assert.equal(rttStats([5, 1, 3]).median_ms, 0.003);
  const one = rttStats([null, 1234]);
  assert.equal(one.jitter_ms, null);
  assert.equal(one.mdev_ms, 0);
  assert.equal(one.min_ms, 1.234);
  assert.deepEqual(Object.values(rttStats([null, null])), [null, null, null, null, null, null]);
});

test('microsecond precision: 3 decimals in ms', () => {
  const s = rttStats([1234, 1236]);
  assert.equal(s.avg_ms, 1.235);
  assert.equal(s.median_ms, 1.235);
});

test('loss percent', () => {
  assert.equal(lossPct(4, 4), 0);
  assert.equal(lossPct(4, 3), 25);
  assert.equal(lossPct(3, 2), 33.333);
  assert.equal(lossPct(0, 0), 100);
});
