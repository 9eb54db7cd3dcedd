// The console's tables, in SQL that PostgreSQL accepts as well (BIGINT, DOUBLE PRECISION,
// SMALLINT, TEXT; ON CONFLICT upserts; no AUTOINCREMENT, no SQLite-only functions in
// queries), so that a PostgreSQL backend can run the same DDL with `jsonb` swapped in for
// the JSON text columns. Times are epoch milliseconds.

export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  password_hash TEXT,
  mosquitto_hash TEXT,
  public_keys TEXT NOT NULL,
  registered_at BIGINT NOT NULL,
  online SMALLINT,
  presence_at BIGINT,
  presence_source TEXT,
  last_seen BIGINT,
  state TEXT,
  state_at BIGINT,
  rejected_messages BIGINT NOT NULL DEFAULT 0,
  last_rejection TEXT
);

CREATE TABLE IF NOT EXISTS configs (
  device_id TEXT NOT NULL REFERENCES devices (id),
  version BIGINT NOT NULL,
  document TEXT NOT NULL,
  pushed_at BIGINT NOT NULL,
  published_at BIGINT,
  PRIMARY KEY (device_id, version)
);

CREATE TABLE IF NOT EXISTS commands (
  device_id TEXT NOT NULL REFERENCES devices (id),
  id TEXT NOT NULL,
  command TEXT NOT NULL,
  args TEXT,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  sent_at BIGINT,
  send_count INTEGER NOT NULL DEFAULT 0,
  reply TEXT,
  reply_status TEXT,
  replied_at BIGINT,
  PRIMARY KEY (device_id, id)
);
CREATE INDEX IF NOT EXISTS commands_by_time ON commands (device_id, created_at);

-- One row per outbox database of a device: (device, stream, seq) names a result end to end.
CREATE TABLE IF NOT EXISTS streams (
  device_id TEXT NOT NULL REFERENCES devices (id),
  stream TEXT NOT NULL,
  first_seq BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  results BIGINT NOT NULL,
  duplicates BIGINT NOT NULL,
  first_at BIGINT NOT NULL,
  last_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, stream)
);

-- Seqs between first_seq and last_seq never received; a late arrival splits or closes a gap.
CREATE TABLE IF NOT EXISTS gaps (
  device_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  from_seq BIGINT NOT NULL,
  to_seq BIGINT NOT NULL,
  detected_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, stream, from_seq)
);

-- The result record, one column per field; rtts_ms and errors as JSON text (jsonb later).
CREATE TABLE IF NOT EXISTS results (
  device_id TEXT NOT NULL,
  stream TEXT NOT NULL,
  seq BIGINT NOT NULL,
  ts BIGINT NOT NULL,
  name TEXT NOT NULL,
  target TEXT NOT NULL,
  address TEXT,
  family SMALLINT NOT NULL,
  size INTEGER NOT NULL,
  sent INTEGER NOT NULL,
  received INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  late INTEGER NOT NULL,
  loss_pct DOUBLE PRECISION NOT NULL,
  min_ms DOUBLE PRECISION,
  avg_ms DOUBLE PRECISION,
  max_ms DOUBLE PRECISION,
  mdev_ms DOUBLE PRECISION,
  median_ms DOUBLE PRECISION,
  jitter_ms DOUBLE PRECISION,
  rtts_ms TEXT NOT NULL,
  ttl SMALLINT,
  errors TEXT NOT NULL,
  clock_synced SMALLINT,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, stream, seq)
);
CREATE INDEX IF NOT EXISTS results_by_name_time ON results (device_id, name, ts);
CREATE INDEX IF NOT EXISTS results_by_time ON results (device_id, ts);

-- Per device and probe, per 5-minute and 1-hour bucket: what long ranges are drawn from.
CREATE TABLE IF NOT EXISTS rollups (
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  step_s INTEGER NOT NULL,
  bucket_start BIGINT NOT NULL,
  target TEXT NOT NULL,
  rounds INTEGER NOT NULL,
  sent BIGINT NOT NULL,
  received BIGINT NOT NULL,
  rtt_count BIGINT NOT NULL,
  rtt_min DOUBLE PRECISION,
  rtt_p10 DOUBLE PRECISION,
  rtt_p25 DOUBLE PRECISION,
  rtt_p50 DOUBLE PRECISION,
  rtt_p75 DOUBLE PRECISION,
  rtt_p90 DOUBLE PRECISION,
  rtt_max DOUBLE PRECISION,
  rtt_avg DOUBLE PRECISION,
  computed_at BIGINT NOT NULL,
  PRIMARY KEY (device_id, name, step_s, bucket_start)
);

-- Buckets that got results since they were last computed (late backlogs re-dirty old ones).
CREATE TABLE IF NOT EXISTS rollup_dirty (
  device_id TEXT NOT NULL,
  name TEXT NOT NULL,
  step_s INTEGER NOT NULL,
  bucket_start BIGINT NOT NULL,
  PRIMARY KEY (device_id, name, step_s, bucket_start)
);
`;
