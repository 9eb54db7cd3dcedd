// Child process of coalesced-acks.test.ts: appends 20 results to the outbox at argv[2],
// acks the first 12 (too few to be committed yet), says so, and SIGKILLs itself.
import { writeSync } from 'node:fs';
import type { Logger } from '../../agent/core/logger.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { round } from '../helpers/outbox-fixtures.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: ack-crash-child <outbox.db>');
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void writeSync(2, `${m}\n`) };
const outbox = openOutbox({ path, max_mb: 64, synchronous: 'full', logger });
outbox.append(round(0, 20));
outbox.ack(outbox.take(0, 12, 1e9).map((i) => i.seq));
writeSync(1, 'acked 12 of 20\n');
process.kill(process.pid, 'SIGKILL');
