import type { AgentState, CommandReply, Json } from '../../agent/core/control.js';
import type { ProbeResult } from '../../agent/core/result.js';

// What the console keeps, behind one interface. Every method returns a promise although the
// SQLite backend is synchronous: a PostgreSQL backend (pg) can then implement it as is.
// Times are epoch milliseconds throughout (BIGINT in PostgreSQL).

export interface NewDevice {
  id: string;
  /** scrypt, see passwords.ts; null: no password login. */
  passwordHash: string | null;
  /** The same password for an external Mosquitto ($7$ PBKDF2-SHA512); it cannot verify scrypt. */
  mosquittoHash: string | null;
  /** PEM public keys for JWT login (IoT Core allowed three per device). */
  publicKeys: string[];
  registeredAt: number;
}

export interface DeviceCredentials {
  id: string;
  passwordHash: string | null;
  mosquittoHash: string | null;
  publicKeys: string[];
}

export type PresenceSource = 'broker' | 'status';

export interface DeviceRecord extends DeviceCredentials {
  registeredAt: number;
  /** null: never heard of (an iot-core device on an external broker has no presence topic). */
  online: boolean | null;
  presenceAt: number | null;
  presenceSource: PresenceSource | null;
  lastSeen: number | null;
  state: AgentState | null;
  stateAt: number | null;
  /** Messages from the device the console could not use (bad JSON, wrong schema, ...). */
  rejectedMessages: number;
  lastRejection: string | null;
}

export type StoredResult = ProbeResult & { seq: number; stream: string; received_at: string };

/** One item of an ingest transaction, already parsed and validated. */
export type IngestItem =
  | { kind: 'telemetry'; device: string; stream: string; results: Array<ProbeResult & { seq: number }>; at: number }
  | { kind: 'reply'; device: string; reply: CommandReply; at: number }
  | { kind: 'state'; device: string; state: AgentState; at: number }
  | { kind: 'presence'; device: string; online: boolean; source: PresenceSource; at: number }
  | { kind: 'rejected'; device: string; reason: string; at: number };

export interface IngestOutcome {
  stored: number;
  duplicates: number;
  /** Replies that matched a command of ours. */
  replies: number;
  /** Devices whose presence went from offline (or unknown) to online in this transaction. */
  cameOnline: string[];
  /** Devices the items named that are not registered (their items were skipped). */
  unknown: string[];
}

export interface ConfigRecord {
  device: string;
  version: number;
  document: Record<string, Json>;
  pushedAt: number;
  /** When the broker acknowledged the retained publish; null until then. */
  publishedAt: number | null;
}

/** 'accepted': the device started it and a final reply follows (update). */
export type CommandStatus = 'pending' | 'sent' | 'accepted' | 'ok' | 'error' | 'rejected' | 'expired';

export interface CommandRecord {
  device: string;
  id: string;
  command: string;
  args: Record<string, Json> | null;
  createdAt: number;
  expiresAt: number;
  sentAt: number | null;
  sendCount: number;
  reply: CommandReply | null;
  repliedAt: number | null;
}

export interface StreamInfo {
  stream: string;
  firstSeq: number;
  lastSeq: number;
  results: number;
  duplicates: number;
  firstAt: number;
  lastAt: number;
  /** Open gaps and the seqs they miss. */
  gaps: number;
  missing: number;
}

export interface Gap {
  stream: string;
  fromSeq: number;
  toSeq: number;
  detectedAt: number;
}

export interface ResultQuery {
  device: string;
  /** Matches the probe's name or its configured target. */
  target?: string;
  from: number;
  to: number;
  limit: number;
}

/** A per-device, per-probe summary of one time bucket: what a SmokePing-style chart draws. */
export interface Rollup {
  name: string;
  target: string;
  stepS: number;
  bucketStart: number;
  rounds: number;
  sent: number;
  received: number;
  lossPct: number | null;
  rtt: { count: number; min: number; p10: number; p25: number; median: number; p75: number; p90: number; max: number; avg: number } | null;
}

export interface RollupQuery {
  device: string;
  target?: string;
  stepS: number;
  from: number;
  to: number;
}

export interface Store {
  /** All or nothing; throws DuplicateDeviceError naming the ids that exist. */
  registerDevices(devices: readonly NewDevice[]): Promise<void>;
  credentials(id: string): Promise<DeviceCredentials | null>;
  device(id: string): Promise<DeviceRecord | null>;
  devices(): Promise<DeviceRecord[]>;
  /** Replaces the device's password (hashes); false for an unknown device. */
  setPassword(id: string, passwordHash: string, mosquittoHash: string): Promise<boolean>;
  /** Removes the device and everything kept about it; false for an unknown device. */
  deleteDevice(id: string): Promise<boolean>;
  /** Small console settings (the admin token's hash). */
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;

  /** One transaction: results deduplicated by (device, stream, seq), gaps kept, state and replies recorded. */
  ingest(items: readonly IngestItem[]): Promise<IngestOutcome>;

  addConfig(rec: Omit<ConfigRecord, 'publishedAt'>): Promise<void>;
  markConfigPublished(device: string, version: number, at: number): Promise<void>;
  latestConfig(device: string): Promise<ConfigRecord | null>;
  /** One pushed version (the web UI diffs against the applied one). */
  configVersion(device: string, version: number): Promise<ConfigRecord | null>;
  /** The latest config of every device (re-published when the broker's retained store may be empty). */
  latestConfigs(opts: { unpublishedOnly: boolean }): Promise<ConfigRecord[]>;

  addCommand(rec: CommandRecord): Promise<void>;
  markCommandSent(device: string, id: string, at: number): Promise<void>;
  command(device: string, id: string): Promise<CommandRecord | null>;
  commands(device: string, limit: number): Promise<CommandRecord[]>;
  /** Commands of the device without a reply that have not expired at `now`. */
  unansweredCommands(device: string, now: number): Promise<CommandRecord[]>;

  results(q: ResultQuery): Promise<{ results: StoredResult[]; truncated: boolean }>;
  streams(device: string): Promise<StreamInfo[]>;
  gaps(device: string, limit: number): Promise<Gap[]>;

  /** Recomputes dirty buckets that ended at least graceMs before now; returns how many. */
  refreshRollups(now: number, graceMs: number, limit: number): Promise<number>;
  rollups(q: RollupQuery): Promise<Rollup[]>;

  close(): Promise<void>;
}

export class DuplicateDeviceError extends Error {
  override readonly name = 'DuplicateDeviceError';
  constructor(readonly ids: string[]) {
    super(`already registered: ${ids.slice(0, 10).join(', ')}${ids.length > 10 ? `, ... (${ids.length})` : ''}`);
  }
}

/** Bucket sizes the rollups keep: 5 minutes and 1 hour. */
export const ROLLUP_STEPS_S = [300, 3600] as const;
