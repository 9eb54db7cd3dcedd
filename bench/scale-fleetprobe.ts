// One fleetprobe round over many targets, built like the agent builds it (IcmpProber over
// an EngineClient), with a fresh engine child per run so that its peak RSS is its own.
import type { EngineCounters } from '../agent/probe/icmp/engine-protocol.js';
import { EngineClient } from '../agent/probe/icmp/engine-client.js';
import { IcmpProber } from '../agent/probe/icmp/icmp-prober.js';
import { Resolver } from '../agent/probe/resolve.js';
import type { Sampler } from './scale-analysis.js';
import { readProc, resetPeakRss } from './scale-proc.js';

export interface TallyInput {
  sent: number;
  received: number;
  duplicates: number;
  rtts: readonly (number | null)[];
}

/** Totals over all targets; RTTs (ms) of every answered packet. */
export interface Tally {
  sent: number;
  received: number;
  duplicates: number;
  rttsMs: number[];
}

export function tally(perTarget: Iterable<TallyInput>): Tally {
  const t: Tally = { sent: 0, received: 0, duplicates: 0, rttsMs: [] };
  for (const r of perTarget) {
    t.sent += r.sent;
    t.received += r.received;
    t.duplicates += r.duplicates;
    for (const x of r.rtts) if (x !== null) t.rttsMs.push(x);
  }
  return t;
}

export interface FleetprobeRun extends Tally {
  late: number;
  counters: EngineCounters;
  /** VmHWM read just before the engine closes, kB. */
  peakRssKb: { main: number; engine: number };
  /** Targets whose record carries any error (send, ICMP, resolve), with one example message. */
  targetsWithErrors: number;
  errorExample: string | null;
}

export interface RoundOptions {
  count: number;
  intervalMs: number;
  timeoutMs: number;
  size: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runFleetprobe(targets: readonly string[], opts: RoundOptions, sampler: Sampler, settleMs: number): Promise<FleetprobeRun> {
  const engine = new EngineClient();
  const prober = new IcmpProber(engine, new Resolver());
  try {
    const child = await engine.start();
    const enginePid = child.pid!;
    resetPeakRss(process.pid);
    sampler.watch('main', process.pid);
    sampler.watch('engine', enginePid);
    // A few idle samples first: the sending period is found from where the tx counter moves.
    await sleep(settleMs);
    const specs = targets.map((t) => ({ name: t, target: t, family: 4 as const, count: opts.count, size: opts.size, interval_ms: opts.intervalMs, timeout_ms: opts.timeoutMs }));
    const records = await prober.runRound(specs, new Date());
    const counters = await engine.counters();
    const peakRssKb = { main: readProc(process.pid)?.hwmKb ?? 0, engine: readProc(enginePid)?.hwmKb ?? 0 };
    await sleep(settleMs);
    const withErrors = records.filter((r) => r.errors.length > 0);
    return {
      ...tally(records.map((r) => ({ sent: r.sent, received: r.received, duplicates: r.duplicates, rtts: r.rtts_ms }))),
      late: records.reduce((a, r) => a + r.late, 0),
      counters,
      peakRssKb,
      targetsWithErrors: withErrors.length,
      errorExample: withErrors[0]?.errors[0]?.message ?? null,
    };
  } finally {
    await prober.close();
  }
}
