// Child process of unusable-dir.test.ts, run as another user: tries to open the outbox at
// argv[2] and reports the outcome as one JSON line.
import type { Logger } from '../../agent/core/logger.js';
import { openOutbox } from '../../agent/outbox/index.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const path = process.argv[2] ?? '';
try {
  openOutbox({ path, max_mb: 1, synchronous: 'full', logger: quiet }).close();
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (e) {
  const err = e instanceof Error ? e : new Error(String(e));
  process.stdout.write(`${JSON.stringify({ ok: false, name: err.name, message: err.message })}\n`);
}
