// Child process of crash.test.ts: appends rounds to the outbox at argv[2] until it is
// killed, and prints each round's last seq once append() has returned (committed).
import { writeSync } from 'node:fs';
import type { Logger } from '../../agent/core/logger.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { round } from '../helpers/outbox-fixtures.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: crash-writer <outbox.db> [max_mb] [full|normal]');
const synchronous = process.argv[4] === 'normal' ? 'normal' : 'full';
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void writeSync(2, `${m}\n`) };
const outbox = openOutbox({ path, max_mb: Number(process.argv[3] ?? 64), synchronous, logger });
writeSync(1, `open ${outbox.stream}\n`);
for (let i = 0; ; i++) {
  const seqs = outbox.append(round(i * 20, 1 + (i % 20), { packets: 1 + (i % 50) }));
  writeSync(1, `${seqs[seqs.length - 1]}\n`);
}
