import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openConfStore } from '../../agent/control/json-store.js';
import { SlidingWindowLimiter } from '../../agent/control/rate-limiter.js';
import { LimitedLog } from '../../agent/control/limited-log.js';
import { ReplyStore } from '../../agent/control/reply-store.js';
import { LinesLogger, MemoryStore } from '../helpers/control-fakes.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const ok = (id: string) => ({ id, status: 'ok' as const, result: { n: id } });

test('idempotency store: keeps the last N ids in order, evicts the oldest, survives a reopen', () => {
  const mem = new MemoryStore();
  const logger = new LinesLogger();
  const store = new ReplyStore(mem, { capacity: 3, logger });
  for (const id of ['a', 'b', 'c', 'd']) store.record(ok(id), true);
  assert.equal(store.size, 3);
  assert.equal(store.get('a'), undefined);
  assert.deepEqual(store.get('d'), ok('d'));
  const reopened = new ReplyStore(mem, { capacity: 3, logger });
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => reopened.get(id)?.id), [undefined, 'b', 'c', 'd']);
  // A smaller capacity after an upgrade keeps the newest.
  const smaller = new ReplyStore(mem, { capacity: 2, logger });
  assert.deepEqual(['b', 'c', 'd'].map((id) => smaller.get(id)?.id), [undefined, 'c', 'd']);
});

test('durable replies are written at once; rejections in batches; a failed durable write throws', async () => {
  const mem = new MemoryStore();
  const store = new ReplyStore(mem, { logger: new LinesLogger(), flushDelayMs: 30 });
  store.record({ id: 'r1', status: 'rejected', error: 'expired' }, false);
  store.record({ id: 'r2', status: 'rejected', error: 'expired' }, false);
  assert.equal(mem.writes, 0);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(mem.writes, 1);
  store.record(ok('x'), true);
  assert.equal(mem.writes, 2);
  mem.failWrites = new Error('EROFS');
  assert.throws(() => store.record(ok('y'), true), /EROFS/);
  assert.deepEqual(store.get('y'), ok('y'), 'still answered as long as the process lives');
  store.record({ id: 'r3', status: 'rejected' }, false);
  store.flush();
  mem.failWrites = null;
  store.flush();
  assert.deepEqual((mem.value.replies as Array<{ id: string }>).map((r) => r.id), ['r1', 'r2', 'x', 'y', 'r3']);
});

test('a store that is not ours is ignored with a warning', () => {
  const mem = new MemoryStore();
  mem.value = { replies: 'nope' };
  const logger = new LinesLogger();
  const store = new ReplyStore(mem, { logger });
  assert.equal(store.size, 0);
  assert.match(logger.lines[0]!, /is not a reply store/);
});

test('on disk with conf: atomic JSON in the state directory, mode 0600; a corrupt file is moved aside', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-reply-'));
  dirs.push(dir);
  const logger = new LinesLogger();
  const store = new ReplyStore(openConfStore(dir, 'command-replies', logger), { logger });
  store.record(ok('one'), true);
  const path = join(dir, 'command-replies.json');
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { format: 1, replies: [ok('one')] });
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['command-replies.json'], 'no temporary files left');
  writeFileSync(path, '{"format":1,"replies":[');
  const again = new ReplyStore(openConfStore(dir, 'command-replies', logger), { logger });
  assert.equal(again.size, 0);
  assert.match(logger.lines.at(-1)!, /could not be read .* moved to .*command-replies\.json\.corrupt-\d+/);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 1);
});

test('rate limiter: at most N in any window, exactly', () => {
  let now = 0;
  const l = new SlidingWindowLimiter(3, 60_000, () => now);
  const take = (at: number): boolean => ((now = at), l.tryTake());
  assert.deepEqual([take(0), take(10), take(20), take(30)], [true, true, true, false]);
  assert.equal(l.retryAfterMs(), 59_970);
  assert.equal(take(59_999), false);
  assert.equal(take(60_000), true, 'the first slot frees a full window after it was taken');
  assert.equal(take(60_005), false);
  assert.equal(take(60_010), true);
  now = 200_000;
  assert.equal(l.retryAfterMs(), 0);
  assert.deepEqual([l.tryTake(), l.tryTake(), l.tryTake(), l.tryTake()], [true, true, true, false]);
  assert.throws(() => new SlidingWindowLimiter(0, 1000), RangeError);
});

test('refusal log: at most N lines a window, then one line with how many were left out', () => {
  let now = 0;
  const logger = new LinesLogger();
  const log = new LimitedLog(logger, 2, 1000, () => now);
  for (let i = 0; i < 5; i++) log.warn(`m${i}`);
  assert.deepEqual(logger.lines, ['warn: m0', 'warn: m1']);
  now = 1000;
  log.warn('m5');
  assert.deepEqual(logger.lines.slice(2), ['warn: control: 3 more refused message(s) not logged in the last 1 s', 'warn: m5']);
});
