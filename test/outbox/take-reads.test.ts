// take() reads its rows with LIMITs guessed from the last rows' average size (see
// delivery.ts); whatever the guess, the answer must be exactly the oldest rows that fit.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openTestOutbox, rawDb, round, tempDir } from '../helpers/outbox-fixtures.js';

/** What take(after, maxItems, maxBytes) must return, computed from the table directly. */
function expected(path: string, after: number, maxItems: number, maxBytes: number): number[] {
  const db = rawDb(path);
  try {
    const rows = db.prepare<[number], { seq: number; bytes: number }>('SELECT seq, bytes FROM results WHERE seq > ? ORDER BY seq').all(after);
    const out: number[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length === maxItems || (out.length > 0 && total + r.bytes > maxBytes)) break;
      out.push(r.seq);
      total += r.bytes;
    }
    return out;
  } finally {
    db.close();
  }
}

test('take is exact when row sizes change under its guess: big rows then small ones, and back', (t) => {
  const path = join(tempDir(t), 'outbox.db');
  const { outbox } = openTestOutbox(path);
  outbox.append(round(0, 20, { packets: 1000 })); // ~7 KB each
  outbox.append(round(20, 600)); // ~300 B each
  outbox.append(round(620, 30, { packets: 1000 }));
  const cases: Array<[number, number, number]> = [
    [0, 20, 1e9], // learns ~7 KB a row
    [20, 500, 200_000], // guesses ~36 rows, must read on to 500
    [20, 500, 50_000], // bytes bind first
    [0, 600, 60_000], // from big rows into small ones
    [600, 100, 100_000], // learned ~300 B a row, then big rows
    [640, 500, 1e12], // the end of the table
    [0, 1, 1], // at least one
  ];
  for (const [after, maxItems, maxBytes] of cases) {
    assert.deepEqual(outbox.take(after, maxItems, maxBytes).map((i) => i.seq), expected(path, after, maxItems, maxBytes), `take(${after}, ${maxItems}, ${maxBytes})`);
  }
  outbox.close();
});
