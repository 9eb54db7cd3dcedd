// Samplers for the agent RSS benchmark: the memory of the agent's main process and of its
// engine child from /proc, and the outbox's counters from the database, on fixed grids.
// They run inside the benchmark process: the agent's figures come from /proc, so the
// sampler's own CPU and memory never show up in them.
import { readdirSync, readFileSync } from 'node:fs';
import type { OutboxStats } from '../agent/core/outbox.js';
import { readOutboxStats } from '../agent/outbox/read-only.js';
import { resetPeakRss } from './scale-proc.js';

export type Role = 'main' | 'engine';
export const ROLES: readonly Role[] = ['main', 'engine'];

export interface MemKb {
  rss: number;
  /** Anonymous memory (heap, V8, SQLite's page cache): where a leak would show. */
  anon: number;
  /** File-backed pages (code, the mmapped WAL index): grows with use, not with leaks. */
  file: number;
  /** Peak RSS since the last resetPeakRss. */
  hwm: number;
}

export interface RssSample {
  /** Seconds since the recorder started. */
  t: number;
  main: MemKb | null;
  engine: MemKb | null;
}

export interface OutboxSample {
  t: number;
  rows: number;
  fileBytes: number;
  generated: number;
  delivered: number;
  dropped: number;
}

/** null once the process is gone (or a zombie, whose status has no memory lines). */
export function readMem(pid: number): MemKb | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const kb = (field: string): number | null => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : null;
  };
  const rss = kb('VmRSS');
  const hwm = kb('VmHWM');
  if (rss === null || hwm === null) return null;
  return { rss, hwm, anon: kb('RssAnon') ?? 0, file: kb('RssFile') ?? 0 };
}

function ppidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm may contain spaces and parentheses: fields count from the last ')'.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

/** The engine child of an agent: the child of `agentPid` whose command line runs engine-child.js. */
export function findEngine(agentPid: number): number | null {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (ppidOf(pid) !== agentPid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('engine-child')) return pid;
    } catch {
      // exited while we looked
    }
  }
  return null;
}

export async function waitForEngine(agentPid: number, timeoutMs = 15_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = findEngine(agentPid);
    if (pid !== null) return pid;
    if (Date.now() > deadline) throw new Error(`no engine child of agent pid ${agentPid} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function outboxSample(path: string, t: number): OutboxSample | null {
  let s: OutboxStats;
  try {
    s = readOutboxStats(path);
  } catch {
    // Between an agent's exit and the next one's start, or a checkpoint holding the lock:
    // a missed sample is fine, the next one comes in a few seconds.
    return null;
  }
  return { t, rows: s.rows, fileBytes: s.file_bytes, generated: s.generated_total, delivered: s.delivered_total, dropped: s.dropped_total };
}

export interface RecorderOptions {
  agentPid: number;
  outboxPath: string;
  rssEveryMs: number;
  outboxEveryMs: number;
}

/** What one phase recorded; peaks are VmHWM read at the end (it also sees spikes between samples). */
export interface Recording {
  rss: RssSample[];
  outbox: OutboxSample[];
  peakKb: Record<Role, number | null>;
  /** The engine child's pids over the phase: more than one means it was restarted. */
  enginePids: number[];
}

/**
 * Samples on absolute deadlines, so a late tick does not shift every later one. The
 * engine's pid is looked up again if it disappears (the agent restarts a dead engine).
 */
export class Recorder {
  private readonly rss: RssSample[] = [];
  private readonly outbox: OutboxSample[] = [];
  private readonly enginePids: number[] = [];
  private readonly t0 = performance.now();
  private timers: NodeJS.Timeout[] = [];
  private enginePid: number | null;

  constructor(private readonly opts: RecorderOptions, enginePid: number) {
    this.enginePid = enginePid;
    this.enginePids.push(enginePid);
    resetPeakRss(opts.agentPid);
    resetPeakRss(enginePid);
    this.loop(opts.rssEveryMs, () => this.sampleRss());
    this.loop(opts.outboxEveryMs, () => this.sampleOutbox());
  }

  get elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** The newest outbox sample, taking one now if `fresh`. */
  latestOutbox(fresh = false): OutboxSample | null {
    if (fresh) this.sampleOutbox();
    return this.outbox[this.outbox.length - 1] ?? null;
  }

  stop(): Recording {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.sampleRss();
    this.sampleOutbox();
    const peak = (pid: number | null): number | null => (pid === null ? null : (readMem(pid)?.hwm ?? null));
    return { rss: this.rss, outbox: this.outbox, peakKb: { main: peak(this.opts.agentPid), engine: peak(this.enginePid) }, enginePids: this.enginePids };
  }

  private loop(everyMs: number, fn: () => void): void {
    const slot = this.timers.length;
    let next = 0;
    const tick = (): void => {
      fn();
      next += everyMs;
      this.timers[slot] = setTimeout(tick, Math.max(0, next - this.elapsedS * 1000));
    };
    tick();
  }

  private sampleRss(): void {
    let engine = this.enginePid === null ? null : readMem(this.enginePid);
    if (engine === null) {
      const pid = findEngine(this.opts.agentPid);
      if (pid !== null && pid !== this.enginePid) {
        this.enginePid = pid;
        this.enginePids.push(pid);
        engine = readMem(pid);
      }
    }
    this.rss.push({ t: this.elapsedS, main: readMem(this.opts.agentPid), engine });
  }

  private sampleOutbox(): void {
    const s = outboxSample(this.opts.outboxPath, this.elapsedS);
    if (s) this.outbox.push(s);
  }
}

export interface MemStats {
  /** RSS at the first sample at or after the warm-up mark, and at the last sample (MiB). */
  start: number;
  end: number;
  /** Highest sampled RSS, and VmHWM (the kernel's peak, spikes between samples included). */
  maxSampled: number;
  peak: number | null;
  /** Least-squares slope over the samples after the warm-up mark, MiB per hour. */
  slopePerHour: number;
  /** Anonymous memory at the same two points (MiB). */
  anonStart: number;
  anonEnd: number;
  samples: number;
  /** Seconds the slope was fitted over. */
  spanS: number;
  /**
   * The slope over the last TAIL_S seconds alone: V8 sizes its heaps for minutes after a
   * load change, so growth that has stopped shows here as a flat tail.
   */
  tailSlopePerHour: number;
  /**
   * The largest rise between two consecutive samples after the warm-up (MiB) and when (s).
   * Most of a phase's growth in one step is V8 resizing its heap, not a leak.
   */
  maxStep: number;
  maxStepAt: number;
}

const mib = (kb: number): number => kb / 1024;
export const TAIL_S = 60;

export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Figures for one process over one recording; null if it was never sampled alive. */
export function memStats(rec: Recording, role: Role, warmupS: number): MemStats | null {
  const alive = rec.rss.flatMap((s) => (s[role] ? [{ t: s.t, m: s[role]! }] : []));
  const steady = alive.filter((s) => s.t >= warmupS);
  const first = steady[0];
  const last = steady[steady.length - 1];
  if (!first || !last) return null;
  // kB per second -> MiB per hour
  const perSecond = slope(steady.map((s) => [s.t, s.m.rss] as const));
  const tail = steady.filter((s) => s.t >= last.t - TAIL_S);
  let maxStep = 0;
  let maxStepAt = first.t;
  for (let i = 1; i < steady.length; i++) {
    const rise = steady[i]!.m.rss - steady[i - 1]!.m.rss;
    if (rise > maxStep) [maxStep, maxStepAt] = [rise, steady[i]!.t];
  }
  return {
    start: mib(first.m.rss),
    end: mib(last.m.rss),
    maxSampled: mib(Math.max(...alive.map((s) => s.m.rss))),
    peak: rec.peakKb[role] === null ? null : mib(rec.peakKb[role]!),
    slopePerHour: (perSecond * 3600) / 1024,
    tailSlopePerHour: (slope(tail.map((s) => [s.t, s.m.rss] as const)) * 3600) / 1024,
    anonStart: mib(first.m.anon),
    anonEnd: mib(last.m.anon),
    samples: steady.length,
    spanS: last.t - first.t,
    maxStep: mib(maxStep),
    maxStepAt,
  };
}
