// Drives the sampler process and turns its samples into the benchmark's figures: the
// sending period (from the veth's tx counter), CPU over that period, and pacing.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { clockTicksPerSecond } from './scale-proc.js';
import type { Sample, SamplerOutput } from './scale-sampler.js';

export class Sampler {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly lines: AsyncIterator<string>,
  ) {}

  static async start(iface: string, periodMs: number): Promise<Sampler> {
    const entry = new URL('./scale-sampler.js', import.meta.url).pathname;
    const proc = spawn(process.execPath, [entry, '--iface', iface, '--period-ms', String(periodMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done || first.value !== 'ready') throw new Error(`sampler did not start (${String(first.value)})`);
    return new Sampler(proc, lines);
  }

  watch(label: string, pid: number): void {
    this.proc.stdin!.write(`watch ${label} ${pid}\n`);
  }

  /** For a failed run: ends the sampler and rethrows the run's error. */
  readonly abandon = (err: unknown): never => {
    this.proc.kill('SIGTERM');
    throw err;
  };

  async stop(): Promise<Sample[]> {
    this.proc.stdin!.end('stop\n');
    const line = await this.lines.next();
    if (line.done) throw new Error('sampler exited without output');
    return (JSON.parse(line.value) as SamplerOutput).samples;
  }
}

export interface Pacing {
  /** Requests per 100 ms window, normalised to exactly 100 ms; first and last (partial) windows left out. */
  min: number;
  max: number;
  windows: number;
  /** Windows with more than 1.5x, or less than 0.5x, the even rate. */
  bursts: number;
  gaps: number;
}

export interface RunFigures {
  /** Wall time from just before the first request to just after the last, seconds. */
  sendSpanS: number;
  /** Echo requests the root-side veth carried during the run, and replies it got back. */
  txPackets: number;
  rxPackets: number;
  /** Per watched label: % of one core over the sending span, all of it and the kernel's part. */
  cpuPct: Record<string, number>;
  sysPct: Record<string, number>;
  /** Whole machine over the sending span, in % of one core (so up to 100 x cores). */
  machineBusyPct: number;
  pacing: Pacing;
}

function ticksAt(samples: readonly Sample[], i: number, label: string, atStart: boolean): [number, number] {
  // A process not yet watched at the start had only just been exec'd: its CPU so far is ~0.
  if (atStart) {
    const p = samples[i]?.procs[label];
    return p ? [p.ticks, p.sysTicks] : [0, 0];
  }
  // One gone before the end keeps its last reading.
  for (let k = i; k >= 0; k--) {
    const p = samples[k]?.procs[label];
    if (p) return [p.ticks, p.sysTicks];
  }
  return [0, 0];
}

/** expectedPer100ms: the even rate (targets / 10 for one echo per second each). */
export function analyse(samples: readonly Sample[], labels: readonly string[], expectedPer100ms: number): RunFigures {
  // The kernel sends a few packets of its own on a fresh link (IPv6 router solicitations,
  // MLD): windows carrying only those must not stretch the sending period.
  const floor = Math.max(3, expectedPer100ms / 20);
  let start = -1;
  let end = -1;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i]!.tx - samples[i - 1]!.tx >= floor) {
      if (start < 0) start = i - 1;
      end = i;
    }
  }
  if (start < 0) throw new Error('no packets left the veth during the run');
  const a = samples[start]!;
  const b = samples[end]!;
  const spanS = (b.t - a.t) / 1000;
  const hz = clockTicksPerSecond();
  const cpuPct: Record<string, number> = {};
  const sysPct: Record<string, number> = {};
  for (const label of labels) {
    const [t1, s1] = ticksAt(samples, end, label, false);
    const [t0, s0] = ticksAt(samples, start, label, true);
    cpuPct[label] = (100 * (t1 - t0)) / hz / spanS;
    sysPct[label] = (100 * (s1 - s0)) / hz / spanS;
  }
  const machineBusyPct = ((100 * (b.cpuBusy - a.cpuBusy)) / (b.cpuTotal - a.cpuTotal)) * availableParallelism();
  const rates: number[] = [];
  for (let k = start + 2; k < end; k++) {
    const w = samples[k]!;
    const p = samples[k - 1]!;
    rates.push(((w.tx - p.tx) * 100) / (w.t - p.t));
  }
  const pacing: Pacing = {
    min: rates.length ? Math.min(...rates) : Number.NaN,
    max: rates.length ? Math.max(...rates) : Number.NaN,
    windows: rates.length,
    bursts: rates.filter((r) => r > 1.5 * expectedPer100ms).length,
    gaps: rates.filter((r) => r < 0.5 * expectedPer100ms).length,
  };
  const last = samples[samples.length - 1]!;
  const first = samples[0]!;
  return { sendSpanS: spanS, txPackets: last.tx - first.tx, rxPackets: last.rx - first.rx, cpuPct, sysPct, machineBusyPct, pacing };
}
