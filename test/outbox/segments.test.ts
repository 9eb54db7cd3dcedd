// The segment layout (agent/outbox/segments.ts): delivered rows are freed with their segment,
// without being written again; acks in any order; bounds free delivered rows first.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { integrity, openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';

const FRAME = 24 + 4096;

interface Inside {
  segments: Array<{ slot: number; lo: number; hi: number; rows: number }>;
  stored: (slot: number) => number;
  pages: (slot: number) => number;
  view: number;
  gone: Array<{ lo: number; hi: number }>;
  freelist: number;
}

/** What the file holds, through a second connection. */
function inside(path: string): Inside {
  const db = rawDb(path);
  try {
    const count = (slot: number): number => db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM seg_${slot}`).get()!.n;
    const segments = db.prepare<[], Inside['segments'][number]>('SELECT slot, lo, hi, rows FROM segments ORDER BY lo').all();
    const slots = db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE name GLOB 'seg_[0-9]*'").all().map((r) => Number(r.name.slice(4)));
    const stored = new Map(slots.map((slot) => [slot, count(slot)]));
    const pages = new Map(segments.map((s) => [s.slot, db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM dbstat WHERE name = ?').get(`seg_${s.slot}`)!.n]));
    return {
      segments,
      stored: (slot) => stored.get(slot) ?? 0,
      pages: (slot) => pages.get(slot) ?? 0,
      view: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM results').get()!.n,
      gone: db.prepare<[], { lo: number; hi: number }>('SELECT lo, hi FROM gone ORDER BY lo').all(),
      freelist: Number(db.pragma('freelist_count', { simple: true })),
    };
  } finally {
    db.close();
  }
}

/** Checkpoints and empties the WAL (through a second connection), so that its size counts what follows. */
function resetWal(path: string): void {
  const db = rawDb(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  assert.equal(statSync(`${path}-wal`).size, 0);
}

const walFrames = (path: string): number => Math.max(0, (statSync(`${path}-wal`).size - 32) / FRAME);
const span = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, k) => lo + k);

test('a delivered segment is freed whole: a few WAL frames for hundreds of pages; a partly delivered one keeps its rows, hidden', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path, { max_mb: 8, synchronous: 'full' }); // segments of ~0.9 MB
  for (let i = 0; i < 60; i++) outbox.append(round(i * 100, 100));
  let f = inside(path);
  assert.ok(f.segments.length >= 2, `${f.segments.length} segments`);
  const [first, second] = f.segments;
  assert.ok(first !== undefined && second !== undefined);
  const pages = f.pages(first.slot);
  assert.ok(pages > 150, `first segment: ${pages} pages`);

  resetWal(path);
  outbox.ack(span(first.lo, first.hi));
  outbox.flush();
  const frames = walFrames(path);
  assert.ok(frames <= 16, `${frames} WAL frames to free ${pages} pages (a DELETE of the rows writes about one per page)`);
  f = inside(path);
  assert.equal(f.segments[0]?.slot, second.slot);
  assert.ok(!f.segments.some((s) => s.slot === first.slot), 'its slot is free');
  assert.equal(f.stored(first.slot), 0);
  assert.ok(f.freelist >= pages - 2, `freelist ${f.freelist} after freeing ${pages} pages`);

  // Half of the next segment: only its seqs are recorded; the rows stay in the table until
  // the rest is delivered, but nothing shows them any more.
  const mid = Math.floor((second.lo + second.hi) / 2);
  resetWal(path);
  outbox.ack(span(second.lo, mid));
  outbox.flush();
  assert.ok(walFrames(path) <= 8, `${walFrames(path)} WAL frames for a partial ack`);
  f = inside(path);
  assert.equal(f.stored(second.slot), second.hi - second.lo + 1, 'rows still stored');
  assert.deepEqual(f.gone, [{ lo: second.lo, hi: mid }]);
  const s = outbox.stats();
  assert.equal(f.view, s.rows);
  assert.equal(s.rows, 6000 - (mid - first.lo + 1));
  assert.equal(outbox.take(0, 1, 1e9)[0]!.seq, mid + 1);
  outbox.close();
  assert.equal(integrity(path), 'ok');
});

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('acks in any order, across segments and restarts: exact counts, take and the view skip them, all freed in the end', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const random = prng(42);
  let { outbox } = openTestOutbox(path, { max_mb: 2 }); // segments of ~0.2 MB
  for (let i = 0; i < 30; i++) outbox.append(round(i * 100, 100));
  const all = span(1, 3000);
  const order = all.map((s) => [random(), s] as const).sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  const acked = new Set<number>();
  for (let k = 0; k < order.length; ) {
    const n = 1 + Math.floor(random() * 300);
    const chunk = order.slice(k, k + n);
    k += n;
    // Some seqs acked twice, some never stored: neither may count.
    outbox.ack([...chunk, ...(random() < 0.3 ? [chunk[0]!, 99_999] : [])]);
    for (const s of chunk) acked.add(s);
    if (random() < 0.5) outbox.flush();
    if (random() < 0.15) {
      outbox.close();
      ({ outbox } = openTestOutbox(path, { max_mb: 2 }));
    }
    const s = outbox.stats();
    assert.equal(s.delivered_total, acked.size);
    assert.equal(s.rows, 3000 - acked.size);
    const left = all.filter((x) => !acked.has(x));
    assert.deepEqual(outbox.take(0, 10_000, 1e12).map((i) => i.seq), left);
    if (left.length > 0) assert.deepEqual(outbox.take(left[0]!, 3, 1e12).map((i) => i.seq), left.slice(1, 4));
    const f = inside(path);
    assert.equal(f.view, s.rows);
    // Gone ranges only cover rows still stored: emptied segments take theirs along.
    for (const g of f.gone) assert.ok(f.segments.some((x) => x.lo <= g.lo && g.lo <= x.hi) && f.segments.some((x) => x.lo <= g.hi && g.hi <= x.hi), `gone ${g.lo}-${g.hi} outside the segments`);
  }
  outbox.close();
  const f = inside(path);
  assert.deepEqual(f.segments, []);
  assert.deepEqual(f.gone, []);
  assert.equal(integrity(path), 'ok');
});

test('bounds free delivered rows first and count only undelivered ones as dropped', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path, { max_mb: 1 });
  let i = 0;
  while (inside(path).segments.length < 4) outbox.append(round(i++ * 20, 20));
  // Deliver (and commit) rows in the middle of the oldest segment, then fill until the
  // bound has trimmed past them.
  const oldest = outbox.take(0, 200, 1e12).map((x) => x.seq);
  const delivered = oldest.slice(50, 150);
  outbox.ack(delivered);
  outbox.flush();
  while (outbox.take(0, 1, 1e12)[0]!.seq <= oldest[oldest.length - 1]!) outbox.append(round(i++ * 20, 20));
  const s = outbox.stats();
  const firstLeft = outbox.take(0, 1, 1e12)[0]!.seq;
  assert.equal(s.delivered_total, delivered.length);
  assert.equal(s.dropped_total, firstLeft - 1 - delivered.length, 'everything below the oldest row left, except the delivered ones');
  assert.equal(s.generated_total, i * 20);
  assert.equal(s.generated_total, s.rows + s.delivered_total + s.dropped_total);
  assert.deepEqual(outbox.take(0, 1e6, 1e12).map((x) => x.seq), span(firstLeft, i * 20), 'the newest, without gaps');
  // Acks that come after their rows were dropped (handed out by take before): they count nothing.
  outbox.ack(oldest);
  outbox.flush();
  assert.deepEqual({ ...outbox.stats(), file_bytes: 0, last_delivery: null }, { ...s, file_bytes: 0, last_delivery: null });
  outbox.close();
  assert.equal(inside(path).view, s.rows);
  assert.equal(integrity(path), 'ok');
});
