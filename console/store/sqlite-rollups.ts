import type Database from 'better-sqlite3';
import { summarize, type RoundSample } from './rollup-math.js';
import type { Rollup, RollupQuery } from './store.js';

interface DirtyRow {
  device_id: string;
  name: string;
  step_s: number;
  bucket_start: number;
}

interface RollupRow {
  name: string;
  target: string;
  step_s: number;
  bucket_start: number;
  rounds: number;
  sent: number;
  received: number;
  rtt_count: number;
  rtt_min: number | null;
  rtt_p10: number | null;
  rtt_p25: number | null;
  rtt_p50: number | null;
  rtt_p75: number | null;
  rtt_p90: number | null;
  rtt_max: number | null;
  rtt_avg: number | null;
}

export interface RollupOps {
  refresh(now: number, graceMs: number, limit: number): number;
  query(q: RollupQuery): Rollup[];
}

/**
 * Rollups are recomputed from the raw results of a bucket, never merged: percentiles do not
 * merge. Ingest marks buckets dirty; a bucket is computed once it has ended (plus a grace
 * for stragglers) and again whenever a late backlog lands in it.
 */
export function createRollups(db: Database.Database): RollupOps {
  const st = {
    dirty: db.prepare<[number, number], DirtyRow>(
      'SELECT device_id, name, step_s, bucket_start FROM rollup_dirty WHERE bucket_start + step_s * 1000 <= ? ORDER BY bucket_start LIMIT ?',
    ),
    rounds: db.prepare<[string, string, number, number], { target: string; sent: number; received: number; rtts_ms: string }>(
      'SELECT target, sent, received, rtts_ms FROM results WHERE device_id = ? AND name = ? AND ts >= ? AND ts < ? ORDER BY ts',
    ),
    upsert: db.prepare<[string, string, number, number, string, number, number, number, number, ...Array<number | null>]>(
      `INSERT INTO rollups (device_id, name, step_s, bucket_start, target, rounds, sent, received, rtt_count,
         rtt_min, rtt_p10, rtt_p25, rtt_p50, rtt_p75, rtt_p90, rtt_max, rtt_avg, computed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (device_id, name, step_s, bucket_start) DO UPDATE SET target = excluded.target, rounds = excluded.rounds,
         sent = excluded.sent, received = excluded.received, rtt_count = excluded.rtt_count, rtt_min = excluded.rtt_min,
         rtt_p10 = excluded.rtt_p10, rtt_p25 = excluded.rtt_p25, rtt_p50 = excluded.rtt_p50, rtt_p75 = excluded.rtt_p75,
         rtt_p90 = excluded.rtt_p90, rtt_max = excluded.rtt_max, rtt_avg = excluded.rtt_avg, computed_at = excluded.computed_at`,
    ),
    clean: db.prepare<[string, string, number, number]>('DELETE FROM rollup_dirty WHERE device_id = ? AND name = ? AND step_s = ? AND bucket_start = ?'),
    query: db.prepare<{ device: string; step: number; from: number; to: number; target: string | null }, RollupRow>(
      `SELECT name, target, step_s, bucket_start, rounds, sent, received, rtt_count, rtt_min, rtt_p10, rtt_p25, rtt_p50, rtt_p75, rtt_p90, rtt_max, rtt_avg
       FROM rollups WHERE device_id = @device AND step_s = @step AND bucket_start >= @from AND bucket_start < @to
         AND (@target IS NULL OR name = @target OR target = @target)
       ORDER BY name, bucket_start`,
    ),
  };

  const refreshOne = (d: DirtyRow, now: number): void => {
    const samples: RoundSample[] = st.rounds
      .all(d.device_id, d.name, d.bucket_start, d.bucket_start + d.step_s * 1000)
      .map((r) => ({ target: r.target, sent: r.sent, received: r.received, rtts: JSON.parse(r.rtts_ms) as Array<number | null> }));
    const s = summarize(d.name, d.step_s, d.bucket_start, samples);
    const rtt = s.rtt;
    st.upsert.run(
      d.device_id, d.name, d.step_s, d.bucket_start, s.target, s.rounds, s.sent, s.received, rtt?.count ?? 0,
      rtt?.min ?? null, rtt?.p10 ?? null, rtt?.p25 ?? null, rtt?.median ?? null, rtt?.p75 ?? null, rtt?.p90 ?? null, rtt?.max ?? null, rtt?.avg ?? null, now,
    );
    st.clean.run(d.device_id, d.name, d.step_s, d.bucket_start);
  };
  // A few buckets per transaction: one commit (an fsync) per bucket made a backlog of a
  // thousand buckets take seconds, and many more would hold ingest up.
  const refreshSome = db.transaction((due: readonly DirtyRow[], now: number) => {
    for (const d of due) refreshOne(d, now);
  });

  return {
    refresh(now, graceMs, limit) {
      const due = st.dirty.all(now - graceMs, limit);
      for (let i = 0; i < due.length; i += 25) refreshSome(due.slice(i, i + 25), now);
      return due.length;
    },
    query(q) {
      return st.query.all({ device: q.device, step: q.stepS, from: q.from, to: q.to, target: q.target ?? null }).map((r) => ({
        name: r.name,
        target: r.target,
        stepS: r.step_s,
        bucketStart: r.bucket_start,
        rounds: r.rounds,
        sent: r.sent,
        received: r.received,
        lossPct: r.sent === 0 ? null : Math.round(((r.sent - r.received) / r.sent) * 100_000) / 1000,
        rtt:
          r.rtt_count === 0
            ? null
            : { count: r.rtt_count, min: r.rtt_min!, p10: r.rtt_p10!, p25: r.rtt_p25!, median: r.rtt_p50!, p75: r.rtt_p75!, p90: r.rtt_p90!, max: r.rtt_max!, avg: r.rtt_avg! },
      }));
    },
  };
}
