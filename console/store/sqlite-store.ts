import Database from 'better-sqlite3';
import { agentStateSchema, commandReplySchema, type Json } from '../../agent/core/control.js';
import type { ProbeError } from '../../agent/core/result.js';
import { createIngest } from './sqlite-ingest.js';
import { createRollups, type RollupOps } from './sqlite-rollups.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.js';
import {
  DuplicateDeviceError, type CommandRecord, type ConfigRecord, type DeviceCredentials, type DeviceRecord, type Gap, type IngestItem,
  type IngestOutcome, type NewDevice, type ResultQuery, type Rollup, type RollupQuery, type Store, type StoredResult, type StreamInfo,
} from './store.js';

export interface SqliteStoreOptions {
  path: string;
  /** full: an acknowledged message survives power loss; normal: a crash of the process only. */
  synchronous: 'full' | 'normal';
}

interface DeviceRow {
  id: string;
  password_hash: string | null;
  mosquitto_hash: string | null;
  public_keys: string;
  registered_at: number;
  online: number | null;
  presence_at: number | null;
  presence_source: string | null;
  last_seen: number | null;
  state: string | null;
  state_at: number | null;
  rejected_messages: number;
  last_rejection: string | null;
}

interface CommandRow {
  device_id: string;
  id: string;
  command: string;
  args: string | null;
  created_at: number;
  expires_at: number;
  sent_at: number | null;
  send_count: number;
  reply: string | null;
  replied_at: number | null;
}

interface ResultRow {
  stream: string; seq: number; ts: number; name: string; target: string; address: string | null; family: number; size: number;
  sent: number; received: number; duplicates: number; late: number; loss_pct: number; min_ms: number | null; avg_ms: number | null;
  max_ms: number | null; mdev_ms: number | null; median_ms: number | null; jitter_ms: number | null; rtts_ms: string; ttl: number | null;
  errors: string; clock_synced: number | null; received_at: number;
}

const DEVICE_COLUMNS = 'id, password_hash, mosquitto_hash, public_keys, registered_at, online, presence_at, presence_source, last_seen, state, state_at, rejected_messages, last_rejection';

export class SqliteStore implements Store {
  private readonly ingestTx: (items: readonly IngestItem[]) => IngestOutcome;
  private readonly rollupOps: RollupOps;
  private readonly st;

  private constructor(private readonly db: Database.Database) {
    this.ingestTx = createIngest(db);
    this.rollupOps = createRollups(db);
    this.st = {
      exists: db.prepare<[string], { id: string }>('SELECT id FROM devices WHERE id = ?'),
      addDevice: db.prepare<[string, string | null, string | null, string, number]>(
        'INSERT INTO devices (id, password_hash, mosquitto_hash, public_keys, registered_at) VALUES (?, ?, ?, ?, ?)',
      ),
      device: db.prepare<[string], DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = ?`),
      devices: db.prepare<[], DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`),
      setPassword: db.prepare<[string, string, string]>('UPDATE devices SET password_hash = ?, mosquitto_hash = ? WHERE id = ?'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      addConfig: db.prepare<[string, number, string, number]>('INSERT INTO configs (device_id, version, document, pushed_at) VALUES (?, ?, ?, ?)'),
      configPublished: db.prepare<[number, string, number]>('UPDATE configs SET published_at = ? WHERE device_id = ? AND version = ?'),
      latestConfig: db.prepare<[string], { device_id: string; version: number; document: string; pushed_at: number; published_at: number | null }>(
        'SELECT device_id, version, document, pushed_at, published_at FROM configs WHERE device_id = ? ORDER BY version DESC LIMIT 1',
      ),
      configVersion: db.prepare<[string, number], { device_id: string; version: number; document: string; pushed_at: number; published_at: number | null }>(
        'SELECT device_id, version, document, pushed_at, published_at FROM configs WHERE device_id = ? AND version = ?',
      ),
      latestConfigs: db.prepare<[number], { device_id: string; version: number; document: string; pushed_at: number; published_at: number | null }>(
        `SELECT c.device_id, c.version, c.document, c.pushed_at, c.published_at FROM configs c
         WHERE c.version = (SELECT max(version) FROM configs m WHERE m.device_id = c.device_id) AND (? = 0 OR c.published_at IS NULL)
         ORDER BY c.device_id`,
      ),
      addCommand: db.prepare<[string, string, string, string | null, number, number]>(
        'INSERT INTO commands (device_id, id, command, args, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      commandSent: db.prepare<[number, string, string]>('UPDATE commands SET sent_at = ?, send_count = send_count + 1 WHERE device_id = ? AND id = ?'),
      command: db.prepare<[string, string], CommandRow>('SELECT * FROM commands WHERE device_id = ? AND id = ?'),
      commands: db.prepare<[string, number], CommandRow>('SELECT * FROM commands WHERE device_id = ? ORDER BY created_at DESC, id LIMIT ?'),
      unanswered: db.prepare<[string, number], CommandRow>('SELECT * FROM commands WHERE device_id = ? AND reply IS NULL AND expires_at > ? ORDER BY created_at'),
      results: db.prepare<{ device: string; from: number; to: number; target: string | null; limit: number }, ResultRow>(
        `SELECT stream, seq, ts, name, target, address, family, size, sent, received, duplicates, late, loss_pct, min_ms, avg_ms, max_ms,
           mdev_ms, median_ms, jitter_ms, rtts_ms, ttl, errors, clock_synced, received_at
         FROM results WHERE device_id = @device AND ts >= @from AND ts < @to AND (@target IS NULL OR name = @target OR target = @target)
         ORDER BY ts, stream, seq LIMIT @limit`,
      ),
      streams: db.prepare<[string], { stream: string; first_seq: number; last_seq: number; results: number; duplicates: number; first_at: number; last_at: number; gaps: number; missing: number }>(
        `SELECT s.stream, s.first_seq, s.last_seq, s.results, s.duplicates, s.first_at, s.last_at,
           (SELECT count(*) FROM gaps g WHERE g.device_id = s.device_id AND g.stream = s.stream) AS gaps,
           (SELECT coalesce(sum(g.to_seq - g.from_seq + 1), 0) FROM gaps g WHERE g.device_id = s.device_id AND g.stream = s.stream) AS missing
         FROM streams s WHERE s.device_id = ? ORDER BY s.first_at`,
      ),
      gaps: db.prepare<[string, number], { stream: string; from_seq: number; to_seq: number; detected_at: number }>(
        'SELECT stream, from_seq, to_seq, detected_at FROM gaps WHERE device_id = ? ORDER BY detected_at DESC, from_seq LIMIT ?',
      ),
    };
  }

  static open(opts: SqliteStoreOptions): SqliteStore {
    const db = new Database(opts.path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA_SQL);
      const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").get();
      if (!row) db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
      else if (Number(row.value) > SCHEMA_VERSION) throw new Error(`${opts.path} has schema version ${row.value}, newer than this console (${SCHEMA_VERSION})`);
      return new SqliteStore(db);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async registerDevices(devices: readonly NewDevice[]): Promise<void> {
    this.db.transaction(() => {
      const taken = devices.filter((d) => this.st.exists.get(d.id) !== undefined).map((d) => d.id);
      if (taken.length > 0) throw new DuplicateDeviceError(taken);
      for (const d of devices) this.st.addDevice.run(d.id, d.passwordHash, d.mosquittoHash, JSON.stringify(d.publicKeys), d.registeredAt);
    })();
  }

  async credentials(id: string): Promise<DeviceCredentials | null> {
    const r = this.st.device.get(id);
    return r ? { id: r.id, passwordHash: r.password_hash, mosquittoHash: r.mosquitto_hash, publicKeys: JSON.parse(r.public_keys) as string[] } : null;
  }

  async device(id: string): Promise<DeviceRecord | null> {
    const r = this.st.device.get(id);
    return r ? toDevice(r) : null;
  }

  async devices(): Promise<DeviceRecord[]> {
    return this.st.devices.all().map(toDevice);
  }

  async setPassword(id: string, passwordHash: string, mosquittoHash: string): Promise<boolean> {
    return this.st.setPassword.run(passwordHash, mosquittoHash, id).changes === 1;
  }

  async deleteDevice(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      for (const table of ['results', 'gaps', 'streams', 'rollups', 'rollup_dirty', 'configs', 'commands']) {
        this.db.prepare(`DELETE FROM ${table} WHERE device_id = ?`).run(id);
      }
      return this.db.prepare('DELETE FROM devices WHERE id = ?').run(id).changes === 1;
    })();
  }

  async getMeta(key: string): Promise<string | null> {
    return this.st.getMeta.get(key)?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.st.setMeta.run(key, value);
  }

  async ingest(items: readonly IngestItem[]): Promise<IngestOutcome> {
    return this.ingestTx(items);
  }

  async addConfig(rec: Omit<ConfigRecord, 'publishedAt'>): Promise<void> {
    this.st.addConfig.run(rec.device, rec.version, JSON.stringify(rec.document), rec.pushedAt);
  }

  async markConfigPublished(device: string, version: number, at: number): Promise<void> {
    this.st.configPublished.run(at, device, version);
  }

  async configVersion(device: string, version: number): Promise<ConfigRecord | null> {
    const r = this.st.configVersion.get(device, version);
    return r ? toConfig(r) : null;
  }

  async latestConfig(device: string): Promise<ConfigRecord | null> {
    const r = this.st.latestConfig.get(device);
    return r ? toConfig(r) : null;
  }

  async latestConfigs(opts: { unpublishedOnly: boolean }): Promise<ConfigRecord[]> {
    return this.st.latestConfigs.all(opts.unpublishedOnly ? 1 : 0).map(toConfig);
  }

  async addCommand(rec: CommandRecord): Promise<void> {
    this.st.addCommand.run(rec.device, rec.id, rec.command, rec.args === null ? null : JSON.stringify(rec.args), rec.createdAt, rec.expiresAt);
  }

  async markCommandSent(device: string, id: string, at: number): Promise<void> {
    this.st.commandSent.run(at, device, id);
  }

  async command(device: string, id: string): Promise<CommandRecord | null> {
    const r = this.st.command.get(device, id);
    return r ? toCommand(r) : null;
  }

  async commands(device: string, limit: number): Promise<CommandRecord[]> {
    return this.st.commands.all(device, limit).map(toCommand);
  }

  async unansweredCommands(device: string, now: number): Promise<CommandRecord[]> {
    return this.st.unanswered.all(device, now).map(toCommand);
  }

  async results(q: ResultQuery): Promise<{ results: StoredResult[]; truncated: boolean }> {
    const rows = this.st.results.all({ device: q.device, from: q.from, to: q.to, target: q.target ?? null, limit: q.limit + 1 });
    return { results: rows.slice(0, q.limit).map(toResult), truncated: rows.length > q.limit };
  }

  async streams(device: string): Promise<StreamInfo[]> {
    return this.st.streams.all(device).map((r) => ({
      stream: r.stream, firstSeq: r.first_seq, lastSeq: r.last_seq, results: r.results, duplicates: r.duplicates,
      firstAt: r.first_at, lastAt: r.last_at, gaps: r.gaps, missing: r.missing,
    }));
  }

  async gaps(device: string, limit: number): Promise<Gap[]> {
    return this.st.gaps.all(device, limit).map((r) => ({ stream: r.stream, fromSeq: r.from_seq, toSeq: r.to_seq, detectedAt: r.detected_at }));
  }

  async refreshRollups(now: number, graceMs: number, limit: number): Promise<number> {
    return this.rollupOps.refresh(now, graceMs, limit);
  }

  async rollups(q: RollupQuery): Promise<Rollup[]> {
    return this.rollupOps.query(q);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toDevice(r: DeviceRow): DeviceRecord {
  // Stored states were validated on the way in; parsing again keeps the type honest.
  const state = r.state === null ? null : agentStateSchema.safeParse(JSON.parse(r.state));
  return {
    id: r.id,
    passwordHash: r.password_hash,
    mosquittoHash: r.mosquitto_hash,
    publicKeys: JSON.parse(r.public_keys) as string[],
    registeredAt: r.registered_at,
    online: r.online === null ? null : r.online === 1,
    presenceAt: r.presence_at,
    presenceSource: r.presence_source === 'broker' || r.presence_source === 'status' ? r.presence_source : null,
    lastSeen: r.last_seen,
    state: state?.success ? state.data : null,
    stateAt: r.state_at,
    rejectedMessages: r.rejected_messages,
    lastRejection: r.last_rejection,
  };
}

function toConfig(r: { device_id: string; version: number; document: string; pushed_at: number; published_at: number | null }): ConfigRecord {
  return { device: r.device_id, version: r.version, document: JSON.parse(r.document) as Record<string, Json>, pushedAt: r.pushed_at, publishedAt: r.published_at };
}

function toCommand(r: CommandRow): CommandRecord {
  const reply = r.reply === null ? null : commandReplySchema.safeParse(JSON.parse(r.reply));
  return {
    device: r.device_id,
    id: r.id,
    command: r.command,
    args: r.args === null ? null : (JSON.parse(r.args) as Record<string, Json>),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    sentAt: r.sent_at,
    sendCount: r.send_count,
    reply: reply?.success ? reply.data : null,
    repliedAt: r.replied_at,
  };
}

function toResult(r: ResultRow): StoredResult {
  return {
    schema: 1, type: 'icmp', name: r.name, target: r.target, address: r.address, family: r.family === 6 ? 6 : 4,
    ts: new Date(r.ts).toISOString(), size: r.size, sent: r.sent, received: r.received, duplicates: r.duplicates, late: r.late,
    loss_pct: r.loss_pct, min_ms: r.min_ms, avg_ms: r.avg_ms, max_ms: r.max_ms, mdev_ms: r.mdev_ms, median_ms: r.median_ms,
    jitter_ms: r.jitter_ms, rtts_ms: JSON.parse(r.rtts_ms) as Array<number | null>, ttl: r.ttl, errors: JSON.parse(r.errors) as ProbeError[],
    ...(r.clock_synced === null ? {} : { clock_synced: r.clock_synced === 1 }),
    seq: r.seq, stream: r.stream, received_at: new Date(r.received_at).toISOString(),
  };
}
