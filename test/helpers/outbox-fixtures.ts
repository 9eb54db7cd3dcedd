// Shared by the outbox tests and the outbox benchmark: temp dirs, records, a capturing logger.
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Logger, LogLevel } from '../../agent/core/logger.js';
import type { ProbeResult } from '../../agent/core/result.js';
import { openOutbox, type OutboxOptions, type SqliteOutbox } from '../../agent/outbox/index.js';

export class CaptureLogger implements Logger {
  readonly lines: Array<{ level: LogLevel; message: string }> = [];
  debug(message: string): void { this.lines.push({ level: 'debug', message }); }
  info(message: string): void { this.lines.push({ level: 'info', message }); }
  warn(message: string): void { this.lines.push({ level: 'warn', message }); }
  error(message: string): void { this.lines.push({ level: 'error', message }); }
  at(level: LogLevel): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

/** A fresh directory under the OS temp dir, removed after the test. */
export function tempDir(t: TestContext, prefix = 'fp-outbox-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A plausible record; `packets` sets its size (one RTT per packet). */
export function sampleResult(i: number, opts: { ts?: string; packets?: number } = {}): ProbeResult {
  const packets = opts.packets ?? 4;
  const rtts = Array.from({ length: packets }, (_, k) => (k % 7 === 3 ? null : Math.round((1 + ((i * 31 + k) % 97) / 10) * 1000) / 1000));
  return {
    schema: 1,
    type: 'icmp',
    name: `target-${i % 50}`,
    target: `host-${i % 50}.example.net`,
    address: `198.18.${(i >> 8) & 255}.${i & 255}`,
    family: 4,
    ts: opts.ts ?? new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    size: 56,
    sent: packets,
    received: rtts.filter((r) => r !== null).length,
    duplicates: 0,
    late: 0,
    loss_pct: Math.round((rtts.filter((r) => r === null).length / packets) * 100000) / 1000,
    min_ms: 1,
    avg_ms: 2.5,
    max_ms: 10.7,
    mdev_ms: 0.4,
    median_ms: 2.2,
    jitter_ms: 0.3,
    rtts_ms: rtts,
    ttl: 64,
    errors: [],
    clock_synced: true,
  };
}

export function round(first: number, n: number, opts: { ts?: string; packets?: number } = {}): ProbeResult[] {
  return Array.from({ length: n }, (_, k) => sampleResult(first + k, opts));
}

export function openTestOutbox(path: string, over: Partial<OutboxOptions> = {}): { outbox: SqliteOutbox; log: CaptureLogger } {
  const log = new CaptureLogger();
  const outbox = openOutbox({ path, max_mb: 64, synchronous: 'normal', logger: log, ...over });
  return { outbox, log };
}

/** A plain read-write connection for looking inside (close it before reopening the outbox). */
export function rawDb(path: string): Database.Database {
  return new Database(path);
}

/** integrity_check through a read-write connection (a read-only one would leave -wal/-shm behind). */
export function integrity(path: string): string {
  const db = new Database(path, { fileMustExist: true });
  try {
    const rows = db.pragma('integrity_check') as Array<Record<string, unknown>>;
    return rows.map((r) => String(Object.values(r)[0])).join('; ');
  } finally {
    db.close();
  }
}

/** Names, sizes, owners and mtimes of a directory's entries: "nothing changed on disk". */
export function dirSnapshot(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`;
    });
}

/** db + wal + shm on disk. */
export function onDiskBytes(path: string): number {
  let n = 0;
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      n += statSync(f).size;
    } catch {
      // absent
    }
  }
  return n;
}
