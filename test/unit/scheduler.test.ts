import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../agent/core/logger.js';
import { Scheduler } from '../../agent/schedule/scheduler.js';
import { VirtualTimers } from './virtual-timers.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

test('rounds stay on the grid: late firing does not accumulate (no drift)', async () => {
  const timers = new VirtualTimers();
  const s = new Scheduler(quiet, timers);
  const starts: number[] = [];
  s.setTasks([{ name: 'a', every_s: 1, run: async () => void starts.push(timers.now()) }]);
  await timers.advance(10_500, 7); // every timer fires 7 ms late
  assert.deepEqual(starts, [7, 1007, 2007, 3007, 4007, 5007, 6007, 7007, 8007, 9007, 10007]);
  await s.stop();
});

test('targets are spread across the interval instead of all firing at once', async () => {
  const timers = new VirtualTimers();
  const s = new Scheduler(quiet, timers);
  const first = new Map<string, number>();
  const tasks = ['a', 'b', 'c', 'd'].map((name) => ({ name, every_s: 2, run: async () => void (first.has(name) || first.set(name, timers.now())) }));
  s.setTasks(tasks);
  await timers.advance(1999);
  assert.deepEqual([...first.entries()], [['a', 0], ['b', 500], ['c', 1000], ['d', 1500]]);
  await s.stop();
});

test('a round still running when the next is due is skipped and counted, not piled up', async () => {
  const timers = new VirtualTimers();
  const s = new Scheduler(quiet, timers);
  let release!: () => void;
  let runs = 0;
  s.setTasks([{ name: 'slow', every_s: 1, run: () => { runs++; return new Promise<void>((r) => (release = r)); } }]);
  await timers.advance(3500); // due at 0, 1000, 2000, 3000: only the first runs
  assert.equal(runs, 1);
  assert.deepEqual(s.stats('slow'), { rounds: 1, skipped: 3 });
  release();
  await new Promise((r) => setImmediate(r));
  await timers.advance(1000);
  assert.equal(runs, 2);
  assert.equal(s.skippedTotal, 3);
  release();
  await s.stop();
});

test('slots missed while the process was stalled are counted as skipped, next round on the grid', async () => {
  const timers = new VirtualTimers();
  const s = new Scheduler(quiet, timers);
  const starts: number[] = [];
  s.setTasks([{ name: 'a', every_s: 1, run: async () => void starts.push(timers.now()) }]);
  await timers.advance(1);
  await timers.advance(3499, 2500); // the 1000 ms timer fires at 3500 (a 2.5 s stall)
  await timers.advance(1000);
  assert.deepEqual(starts.slice(0, 3), [0, 3500, 4000]);
  assert.equal(s.stats('a')!.skipped, 2); // the 2000 and 3000 slots
  await s.stop();
});

test('stop waits for a round in flight', async () => {
  const timers = new VirtualTimers();
  const s = new Scheduler(quiet, timers);
  let finished = false;
  s.setTasks([{ name: 'a', every_s: 1, run: () => new Promise<void>((r) => setTimeout(() => { finished = true; r(); }, 20)) }]);
  await timers.advance(0);
  await s.stop();
  assert.equal(finished, true);
});

test('cron tasks run on node-schedule; a bad cron expression is refused', async () => {
  const s = new Scheduler(quiet);
  assert.throws(() => s.setTasks([{ name: 'bad', cron: 'not a cron', run: async () => {} }]), /invalid cron/);
  let ran = 0;
  s.setTasks([{ name: 'every-second', cron: '* * * * * *', run: async () => void ran++ }]);
  await new Promise((r) => setTimeout(r, 2200));
  await s.stop();
  assert.ok(ran >= 1 && ran <= 3, `ran ${ran} times in 2.2 s`);
});

test('real timers: ten 50 ms rounds start on the grid', async () => {
  const s = new Scheduler(quiet);
  const starts: number[] = [];
  s.setTasks([{ name: 'a', every_s: 0.05, run: async () => void starts.push(performance.now()) }]);
  await new Promise((r) => setTimeout(r, 520));
  await s.stop();
  assert.ok(starts.length >= 10, `${starts.length} rounds`);
  const t0 = starts[0]!;
  // Lateness of round n relative to the grid stays bounded instead of growing with n.
  const lateness = starts.map((t, n) => t - t0 - n * 50);
  assert.ok(Math.max(...lateness) < 40, `lateness ${lateness.map((x) => x.toFixed(1)).join(',')}`);
});

test('skipped rounds are logged at most once a minute, with a count', async () => {
  const timers = new VirtualTimers();
  const lines: string[] = [];
  const s = new Scheduler({ ...quiet, warn: (m) => void lines.push(m) }, timers);
  let release!: () => void;
  s.setTasks([{ name: 'slow', every_s: 0.1, run: () => new Promise<void>((r) => (release = r)) }]);
  await timers.advance(150_000); // 1,500 skipped slots in 2.5 minutes
  assert.ok(s.stats('slow')!.skipped >= 1499);
  assert.equal(lines.length, 3);
  assert.match(lines[1]!, /round skipped.*\(600 round\(s\) skipped since the last such line\)/);
  release();
  await s.stop();
});
