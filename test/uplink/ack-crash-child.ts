// Child process of drainer-acks.test.ts: drains 50 results from the outbox at argv[2]
// through a transport that PUBACKs the first three messages and never the fourth, with the
// acks' commit held back (long ackDelayMs); prints the PUBACKed seqs and SIGKILLs itself.
import { writeSync } from 'node:fs';
import type { Logger } from '../../agent/core/logger.js';
import type { Transport } from '../../agent/core/uplink.js';
import { openOutbox } from '../../agent/outbox/index.js';
import { Drainer } from '../../agent/uplink/drainer.js';
import { icmpResults, type Telemetry } from './records.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: ack-crash-child <outbox.db>');
const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => void writeSync(2, `${m}\n`) };
const outbox = openOutbox({ path, max_mb: 16, synchronous: 'full', logger });
outbox.append(icmpResults(0, 50));
const acked: number[] = [];
let published = 0;
const transport: Transport = {
  connected: true,
  maxEventBytes: 256 * 1024,
  start() {},
  async stop() {},
  publishEvent(payload: Buffer): Promise<void> {
    if (++published > 3) return new Promise(() => undefined);
    acked.push(...(JSON.parse(payload.toString()) as Telemetry).results.map((r) => r.seq));
    return Promise.resolve();
  },
  async publishState() {},
  on() {},
  off() {},
};
const drainer = new Drainer({ outbox, transport, deviceId: 'pi', batchMax: 10, inflightMax: 1, ackDelayMs: 60_000, logger });
drainer.start();
const poll = setInterval(() => {
  if (drainer.stats().results_published < 30) return;
  clearInterval(poll);
  writeSync(1, `${JSON.stringify({ acked })}\n`);
  process.kill(process.pid, 'SIGKILL');
}, 5);
