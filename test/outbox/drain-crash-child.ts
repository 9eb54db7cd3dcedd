// Child process of drain-crash.test.ts: appends rounds to the outbox at argv[2] and drains
// it (take, ack, sometimes flush or drop) until it is killed. Reports "A lo hi" once an
// append returned; "k s,s,.." before an ack (which may commit) and "K" after it; "F" after a
// flush; "d s" before a drop and "D" after it.
import { writeSync } from 'node:fs';
import type { Logger } from '../../agent/core/logger.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { round } from '../helpers/outbox-fixtures.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: drain-crash-child <outbox.db>');
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void writeSync(2, `${m}\n`) };
// max_mb 2: segments of ~0.2 MB, so that they fill and are emptied all the time.
const outbox = openOutbox({ path, max_mb: 2, synchronous: 'full', logger });
const say = (line: string): void => void writeSync(1, `${line}\n`);
let cursor = 0;
for (let i = 0; ; i++) {
  const seqs = outbox.append(round(i * 40, 1 + (i % 40)));
  say(`A ${seqs[0]} ${seqs[seqs.length - 1]}`);
  const batch = outbox.take(cursor, 1 + ((i * 37) % 120), 1e9);
  if (batch.length === 0) continue;
  cursor = batch[batch.length - 1]!.seq;
  if (i % 17 === 5) {
    say(`d ${batch[0]!.seq}`);
    outbox.drop([batch[0]!.seq], 'test');
    say('D');
  }
  // Acked out of order now and then (PUBACKs of a window may come in any order).
  const acked = batch.slice(i % 17 === 5 ? 1 : 0).map((b) => b.seq);
  if (i % 3 === 0) acked.reverse();
  say(`k ${acked.join(',')}`);
  outbox.ack(acked);
  say('K');
  if (i % 4 === 0) {
    outbox.flush();
    say('F');
  }
}
