// A real SQLITE_FULL: the outbox lives on a 2 MiB tmpfs (mounted by the test, as root), and
// the file system is filled by another file. Skipped where tmpfs cannot be mounted.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { OutboxFullError, type SqliteOutbox } from '../../agent/outbox/index.js';
import { openTestOutbox, rawDb, round } from '../helpers/outbox-fixtures.js';
import { Tmpfs } from '../helpers/outbox-tmpfs.js';

type Open = (path: string) => ReturnType<typeof openTestOutbox>;

/** Runs body with a fresh tmpfs; outboxes opened through `open` are closed before unmounting. */
function onTmpfs(t: TestContext, size: string, body: (fs: Tmpfs, open: Open) => void): void {
  const fs = Tmpfs.mount(size);
  if (fs === undefined) return void t.skip('cannot mount tmpfs here (needs root); SQLITE_FULL not tested');
  const opened: SqliteOutbox[] = [];
  try {
    body(fs, (path) => {
      const o = openTestOutbox(path, { max_mb: 64, synchronous: 'full' });
      opened.push(o.outbox);
      return o;
    });
  } finally {
    for (const o of opened) o.close();
    fs.unmount();
  }
}

/** Stored seqs form one contiguous tail (oldest dropped first) and the counters add up. */
function assertConsistent(outbox: SqliteOutbox, path: string): void {
  const s = outbox.stats();
  const db = rawDb(path);
  try {
    const r = db.prepare<[], { n: number; lo: number | null; hi: number | null; bytes: number }>('SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi, coalesce(sum(bytes), 0) AS bytes FROM results').get()!;
    assert.equal(s.delivered_total + s.dropped_total + r.n, s.generated_total);
    assert.equal(r.n, s.rows);
    assert.equal(r.bytes, s.bytes);
    if (r.n > 0) assert.equal(r.hi! - r.lo! + 1, r.n, 'no gaps: only the oldest were dropped');
  } finally {
    db.close();
  }
}

test('a file system smaller than max_mb: appends keep succeeding, the oldest are dropped and counted', (t) => {
  onTmpfs(t, '2m', (fs, open) => {
    const path = join(fs.dir, 'outbox.db');
    const { outbox, log } = open(path);
    let n = 0;
    for (let i = 0; i < 600; i++) {
      outbox.append(round(n, 10, { packets: 20 }));
      n += 10;
    }
    const s = outbox.stats();
    assert.equal(s.generated_total, 6000);
    assert.ok(s.dropped_total > 1000, `dropped ${s.dropped_total}`);
    assert.ok(s.rows > 500, `kept ${s.rows}`);
    assert.ok(log.at('warn').some((l) => /dropped \d+ unsent results .*\((file system almost full|disk full)\)/.test(l)));
    assertConsistent(outbox, path);
    assert.equal(outbox.integrityCheck(), 'ok');
  });
});

test('SQLITE_FULL when another file fills the disk: drops oldest, retries, ack still works; a round that cannot fit throws OutboxFullError', (t) => {
  onTmpfs(t, '2m', (fs, open) => {
    const path = join(fs.dir, 'outbox.db');
    const { outbox, log } = open(path);
    let n = 0;
    for (let i = 0; i < 40; i++) {
      outbox.append(round(n, 10, { packets: 20 }));
      n += 10;
    }
    assert.equal(outbox.stats().dropped_total, 0);
    fs.fill();
    // Every append must still succeed; the first one meets SQLITE_FULL ("disk full" is only
    // reported from that path) and makes room by dropping the oldest rows.
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++) {
      seqs.push(...outbox.append(round(n, 10, { packets: 20 })));
      n += 10;
    }
    assert.deepEqual(seqs, Array.from({ length: 200 }, (_, k) => 401 + k));
    assert.ok(log.at('warn').some((l) => /\(disk full\)/.test(l)), log.at('warn').join('\n'));
    assert.ok(outbox.stats().dropped_total > 0);
    assertConsistent(outbox, path);

    // Deleting needs WAL space too: ack of everything on the full disk.
    const all = outbox.take(0, 100_000, 1e12).map((i) => i.seq);
    outbox.ack(all);
    assert.equal(outbox.stats().rows, 0);

    // A round larger than the whole file system: nothing to drop can make it fit.
    fs.fill('filler-2');
    const huge = round(n, 3000, { packets: 100 });
    assert.throws(
      () => outbox.append(huge),
      (e: unknown) => e instanceof OutboxFullError && e.results === 3000 && !e.message.includes('\n') && e.message.includes(path),
    );
    // ... and the outbox carries on.
    const after = outbox.append(round(n + 3000, 2));
    assert.equal(after.length, 2);
    assert.ok(after[0]! > seqs[seqs.length - 1]!, 'seqs keep increasing');
    rmSync(join(fs.dir, 'filler'));
    rmSync(join(fs.dir, 'filler-2'));
    outbox.append(round(n + 3002, 10, { packets: 20 }));
    assertConsistent(outbox, path);
    assert.equal(outbox.integrityCheck(), 'ok');
  });
});
