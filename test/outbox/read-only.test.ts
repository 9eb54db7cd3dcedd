// `fleetprobe outbox stats|export` run as root next to the service: they must not create,
// modify or chown any file.
import assert from 'node:assert/strict';
import { chownSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportOutbox, NotAnOutboxError, OutboxUnavailableError, readOutboxStats } from '../../agent/outbox/index.js';
import { runAndKill } from '../helpers/outbox-crash.js';
import { dirSnapshot, openTestOutbox, round, tempDir } from '../helpers/outbox-fixtures.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function exported(path: string): { lines: string[]; count: number } {
  const lines: string[] = [];
  const count = exportOutbox(path, (l) => lines.push(l));
  return { lines, count };
}

test('closed database (no -wal/-shm): stats and export read everything and leave no file behind', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const { outbox } = openTestOutbox(path);
  const results = round(0, 30, { packets: 5 });
  outbox.append(results.slice(0, 10));
  outbox.append(results.slice(10));
  outbox.ack([1, 2, 3]);
  const live = outbox.stats();
  outbox.close();
  const before = dirSnapshot(dir);
  assert.deepEqual(before.map((l) => l.split(' ')[0]), ['outbox.db']);

  assert.deepEqual({ ...readOutboxStats(path), file_bytes: 0 }, { ...live, file_bytes: 0 });
  const { lines, count } = exported(path);
  assert.equal(count, 27);
  assert.equal(lines.length, 27);
  lines.forEach((line, i) => {
    assert.ok(!line.includes('\n'));
    assert.ok(line.startsWith(`{"seq":${i + 4},"schema":1,`), line);
    assert.deepEqual(JSON.parse(line), { seq: i + 4, ...results[i + 3] });
  });
  assert.deepEqual(dirSnapshot(dir), before, 'no -wal, -shm or anything else created; nothing modified');
});

test('service running (owned by another user): reads through its -wal/-shm, creates nothing, owners unchanged', (t) => {
  if (!isRoot) return t.skip('needs root');
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const { outbox } = openTestOutbox(path);
  outbox.append(round(0, 10));
  for (const f of ['outbox.db', 'outbox.db-wal', 'outbox.db-shm']) chownSync(join(dir, f), NOBODY, NOBODY);
  outbox.append(round(10, 5)); // committed in the WAL only
  try {
    const names = (): string[] => dirSnapshot(dir).map((l) => l.split(' ').slice(0, 1).join());
    const owners = (): number[] => ['outbox.db', 'outbox.db-wal', 'outbox.db-shm'].map((f) => statSync(join(dir, f)).uid);
    assert.deepEqual(names(), ['outbox.db', 'outbox.db-shm', 'outbox.db-wal']);
    assert.equal(readOutboxStats(path).rows, 15);
    assert.equal(exported(path).count, 15);
    assert.deepEqual(names(), ['outbox.db', 'outbox.db-shm', 'outbox.db-wal']);
    assert.deepEqual(owners(), [NOBODY, NOBODY, NOBODY]);
    // The service carries on undisturbed.
    assert.deepEqual(outbox.append(round(15, 1)), [16]);
  } finally {
    outbox.close();
  }
});

test('after a crash (-wal and -shm left), and with the -shm gone too: every committed round, no file created', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const run = await runAndKill(path, 150, { minRounds: 20 });
  const last = run.seqs[run.seqs.length - 1]!;
  assert.ok(existsSync(`${path}-wal`) && existsSync(`${path}-shm`));
  const before = dirSnapshot(dir);
  const viaShm = exported(path);
  assert.ok(viaShm.count >= last, `export has ${viaShm.count} results, the writer reported seq ${last}`);
  assert.equal(readOutboxStats(path).rows, viaShm.count);
  assert.deepEqual(dirSnapshot(dir).map((l) => l.split(' ')[0]), before.map((l) => l.split(' ')[0]));

  // Without -shm SQLite would create one: the export applies the WAL in memory instead.
  rmSync(`${path}-shm`);
  const noShm = dirSnapshot(dir);
  const viaMemory = exported(path);
  assert.deepEqual(viaMemory.lines, viaShm.lines);
  assert.equal(readOutboxStats(path).rows, viaShm.count);
  assert.deepEqual(dirSnapshot(dir), noShm);

  // And the agent, recovering the same WAL, agrees.
  const { outbox } = openTestOutbox(path);
  assert.equal(outbox.stats().rows, viaShm.count);
  outbox.close();
});

test('a missing file or a file that is not an outbox: typed errors, nothing created', (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'outbox.db');
  assert.throws(() => readOutboxStats(missing), (e: unknown) => e instanceof OutboxUnavailableError && e.message === `outbox ${missing}: does not exist`);
  assert.throws(() => exportOutbox(missing, () => {}), OutboxUnavailableError);
  assert.equal(existsSync(missing), false);
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, '');
  assert.throws(() => readOutboxStats(junk), NotAnOutboxError);
  writeFileSync(junk, 'x'.repeat(5000));
  assert.throws(() => exportOutbox(junk, () => {}), /not a database|NOTADB/);
  assert.deepEqual(dirSnapshot(dir).map((l) => l.split(' ')[0]), ['junk.db']);
});
