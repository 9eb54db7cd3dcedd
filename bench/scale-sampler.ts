// Sampler process for the scale benchmark: every period it reads the veth's packet counters
// and the CPU/RSS of the watched pids. It is a separate process so that its own CPU time
// and timers stay out of the agent's figures.
//
// Protocol (lines): stdin "watch <label> <pid>" | "stop"; stdout "ready" once sampling,
// then one JSON line (SamplerOutput) after "stop".
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { type ProcSample, readLink, readProc } from './scale-proc.js';

export interface Sample {
  /** Milliseconds since the sampler started (monotonic). */
  t: number;
  tx: number;
  rx: number;
  /** Whole machine, /proc/stat jiffies: busy (all but idle and iowait) and total. */
  cpuBusy: number;
  cpuTotal: number;
  procs: Record<string, ProcSample | null>;
}

export interface SamplerOutput {
  periodMs: number;
  samples: Sample[];
}

const { values } = parseArgs({ options: { iface: { type: 'string' }, 'period-ms': { type: 'string', default: '100' } } });
const iface = values.iface;
if (!iface) throw new Error('--iface is required');
const periodMs = Number(values['period-ms']);

const watched = new Map<string, number>();
const samples: Sample[] = [];
const t0 = process.hrtime.bigint();
const now = (): number => Number(process.hrtime.bigint() - t0) / 1e6;

function machineCpu(): [number, number] {
  const f = readFileSync('/proc/stat', 'latin1').slice(0, 200).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return [total - f[3]! - f[4]!, total];
}

function sample(): void {
  const link = readLink(iface!);
  const [cpuBusy, cpuTotal] = machineCpu();
  const procs: Record<string, ProcSample | null> = {};
  for (const [label, pid] of watched) procs[label] = readProc(pid);
  samples.push({ t: now(), tx: link.txPackets, rx: link.rxPackets, cpuBusy, cpuTotal, procs });
}

// Deadlines are absolute so that a late tick does not shift every later one.
let next = 0;
let timer: NodeJS.Timeout | null = null;
function tick(): void {
  sample();
  next += periodMs;
  timer = setTimeout(tick, Math.max(0, next - now()));
}

let stopping = false;
createInterface({ input: process.stdin })
  .on('line', (line) => {
    const [cmd, label, pid] = line.trim().split(/\s+/);
    if (cmd === 'watch' && label && pid) watched.set(label, Number(pid));
    else if (cmd === 'stop') stop();
  })
  // The benchmark died without saying stop: nobody is left to read the samples.
  .on('close', () => stopping || process.exit(0));

function stop(): void {
  stopping = true;
  if (timer) clearTimeout(timer);
  sample();
  const out: SamplerOutput = { periodMs, samples };
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
}

tick();
process.stdout.write('ready\n');
