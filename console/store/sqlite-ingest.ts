import type Database from 'better-sqlite3';
import type { ProbeResult } from '../../agent/core/result.js';
import { bucketOf } from './rollup-math.js';
import { ROLLUP_STEPS_S, type IngestItem, type IngestOutcome } from './store.js';

type ResultRow = [
  device: string, stream: string, seq: number, ts: number, name: string, target: string, address: string | null, family: number,
  size: number, sent: number, received: number, duplicates: number, late: number, lossPct: number,
  minMs: number | null, avgMs: number | null, maxMs: number | null, mdevMs: number | null, medianMs: number | null, jitterMs: number | null,
  rtts: string, ttl: number | null, errors: string, clockSynced: number | null, receivedAt: number,
];

interface StreamRow {
  first_seq: number;
  last_seq: number;
  results: number;
  duplicates: number;
  first_at: number;
}

/**
 * Builds the ingest transaction: every item of a group commit in one SQLite transaction,
 * so that a QoS 1 message is acknowledged only after all of it is on disk.
 */
export function createIngest(db: Database.Database): (items: readonly IngestItem[]) => IngestOutcome {
  const st = {
    known: db.prepare<[string], { online: number | null }>('SELECT online FROM devices WHERE id = ?'),
    insert: db.prepare<ResultRow>(
      `INSERT INTO results (device_id, stream, seq, ts, name, target, address, family, size, sent, received, duplicates, late, loss_pct,
         min_ms, avg_ms, max_ms, mdev_ms, median_ms, jitter_ms, rtts_ms, ttl, errors, clock_synced, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id, stream, seq) DO NOTHING`,
    ),
    stream: db.prepare<[string, string], StreamRow>('SELECT first_seq, last_seq, results, duplicates, first_at FROM streams WHERE device_id = ? AND stream = ?'),
    saveStream: db.prepare<[string, string, number, number, number, number, number, number]>(
      `INSERT INTO streams (device_id, stream, first_seq, last_seq, results, duplicates, first_at, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id, stream) DO UPDATE SET first_seq = excluded.first_seq, last_seq = excluded.last_seq,
         results = excluded.results, duplicates = excluded.duplicates, last_at = excluded.last_at`,
    ),
    addGap: db.prepare<[string, string, number, number, number]>('INSERT INTO gaps (device_id, stream, from_seq, to_seq, detected_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    gapAt: db.prepare<[string, string, number, number], { from_seq: number; to_seq: number; detected_at: number }>(
      'SELECT from_seq, to_seq, detected_at FROM gaps WHERE device_id = ? AND stream = ? AND from_seq <= ? AND to_seq >= ?',
    ),
    dropGap: db.prepare<[string, string, number]>('DELETE FROM gaps WHERE device_id = ? AND stream = ? AND from_seq = ?'),
    dirty: db.prepare<[string, string, number, number]>('INSERT INTO rollup_dirty (device_id, name, step_s, bucket_start) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    seen: db.prepare<[number, string, number]>('UPDATE devices SET last_seen = ? WHERE id = ? AND (last_seen IS NULL OR last_seen < ?)'),
    state: db.prepare<[string, number, string]>('UPDATE devices SET state = ?, state_at = ? WHERE id = ?'),
    presence: db.prepare<[number, number, string, string, number]>(
      'UPDATE devices SET online = ?, presence_at = ?, presence_source = ? WHERE id = ? AND (presence_at IS NULL OR presence_at <= ?)',
    ),
    // An 'accepted' reply (update) is interim: the final reply with the same id replaces it,
    // and a repeated 'accepted' never replaces a final one.
    reply: db.prepare<[string, string, number, string, string, string]>(
      "UPDATE commands SET reply = ?, reply_status = ?, replied_at = ? WHERE device_id = ? AND id = ? AND (reply IS NULL OR (reply_status = 'accepted' AND ? <> 'accepted'))",
    ),
    rejected: db.prepare<[string, string]>('UPDATE devices SET rejected_messages = rejected_messages + 1, last_rejection = ? WHERE id = ?'),
  };

  const telemetry = (device: string, stream: string, results: ReadonlyArray<ProbeResult & { seq: number }>, at: number, out: IngestOutcome): void => {
    const prev = st.stream.get(device, stream);
    let row = prev ? { ...prev } : null;
    const dirty = new Set<string>();
    for (const r of results) {
      const ts = Date.parse(r.ts);
      const inserted = st.insert.run(
        device, stream, r.seq, ts, r.name, r.target, r.address, r.family, r.size, r.sent, r.received, r.duplicates, r.late, r.loss_pct,
        r.min_ms, r.avg_ms, r.max_ms, r.mdev_ms, r.median_ms, r.jitter_ms, JSON.stringify(r.rtts_ms), r.ttl, JSON.stringify(r.errors),
        r.clock_synced === undefined ? null : r.clock_synced ? 1 : 0, at,
      ).changes === 1;
      if (!inserted) {
        out.duplicates++;
        if (row) row.duplicates++;
        continue;
      }
      out.stored++;
      for (const step of ROLLUP_STEPS_S) dirty.add(`${step}\u0000${bucketOf(ts, step)}\u0000${r.name}`);
      if (!row) {
        row = { first_seq: r.seq, last_seq: r.seq, results: 1, duplicates: 0, first_at: at };
        continue;
      }
      row.results++;
      if (r.seq > row.last_seq) {
        if (r.seq > row.last_seq + 1) st.addGap.run(device, stream, row.last_seq + 1, r.seq - 1, at);
        row.last_seq = r.seq;
      } else if (r.seq < row.first_seq) {
        if (r.seq < row.first_seq - 1) st.addGap.run(device, stream, r.seq + 1, row.first_seq - 1, at);
        row.first_seq = r.seq;
      } else {
        fillGap(device, stream, r.seq);
      }
    }
    if (row) st.saveStream.run(device, stream, row.first_seq, row.last_seq, row.results, row.duplicates, row.first_at, at);
    for (const key of dirty) {
      const [step, bucket, name] = key.split('\u0000') as [string, string, string];
      st.dirty.run(device, name, Number(step), Number(bucket));
    }
  };

  // A late arrival inside a gap: the gap shrinks or splits in two.
  const fillGap = (device: string, stream: string, seq: number): void => {
    const gap = st.gapAt.get(device, stream, seq, seq);
    if (!gap) return;
    st.dropGap.run(device, stream, gap.from_seq);
    if (gap.from_seq <= seq - 1) st.addGap.run(device, stream, gap.from_seq, seq - 1, gap.detected_at);
    if (seq + 1 <= gap.to_seq) st.addGap.run(device, stream, seq + 1, gap.to_seq, gap.detected_at);
  };

  return db.transaction((items: readonly IngestItem[]): IngestOutcome => {
    const out: IngestOutcome = { stored: 0, duplicates: 0, replies: 0, cameOnline: [], unknown: [] };
    const known = new Map<string, boolean>();
    const lastSeen = new Map<string, number>();
    for (const item of items) {
      let isKnown = known.get(item.device);
      if (isKnown === undefined) known.set(item.device, (isKnown = st.known.get(item.device) !== undefined));
      if (!isKnown) {
        if (!out.unknown.includes(item.device)) out.unknown.push(item.device);
        continue;
      }
      // A broker's "gone" is not a sign of life; everything else is.
      if (!(item.kind === 'presence' && !item.online)) lastSeen.set(item.device, Math.max(lastSeen.get(item.device) ?? 0, item.at));
      switch (item.kind) {
        case 'telemetry':
          telemetry(item.device, item.stream, item.results, item.at, out);
          break;
        case 'reply':
          if (st.reply.run(JSON.stringify(item.reply), item.reply.status, item.at, item.device, item.reply.id, item.reply.status).changes === 1) out.replies++;
          break;
        case 'state':
          st.state.run(JSON.stringify(item.state), item.at, item.device);
          break;
        case 'presence': {
          const before = st.known.get(item.device)?.online ?? null;
          const changed = st.presence.run(item.online ? 1 : 0, item.at, item.source, item.device, item.at).changes === 1;
          if (changed && item.online && before !== 1 && !out.cameOnline.includes(item.device)) out.cameOnline.push(item.device);
          break;
        }
        case 'rejected':
          st.rejected.run(item.reason, item.device);
          break;
      }
    }
    for (const [device, at] of lastSeen) st.seen.run(at, device, at);
    return out;
  });
}
