// Scale benchmark: can fleetprobe keep N targets at one echo per second each with zero
// loss, and at what CPU and memory, next to fping on the same targets in the same run?
// The targets are addresses inside a namespace this script creates (test/helpers TestNet);
// the tools run one after the other so that they never compete for the two cores.
// Run as root: node dist/bench/scale.js [--count C] [--sizes 1000,5000] [--fping-interval-ms MS]
import { parseArgs } from 'node:util';
import { run } from '../test/helpers/run.js';
import { TestNet } from '../test/helpers/netns.js';
import { analyse, type RunFigures, Sampler } from './scale-analysis.js';
import { runFleetprobe, tally, type Tally } from './scale-fleetprobe.js';
import { runFping } from './scale-fping.js';
import { fmt, percentile } from './stats.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '30' },
    sizes: { type: 'string', default: '1000,5000' },
    'fping-interval-ms': { type: 'string' },
  },
});
const count = Number(values.count);
const sizes = values.sizes.split(',').map(Number);
if (!Number.isInteger(count) || count < 1 || sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--count and --sizes take positive integers');

const INTERVAL_MS = 1000;
const TIMEOUT_MS = 1000;
const SIZE = 56;
const SAMPLE_MS = 100;
const SETTLE_MS = 1000;
const TARGET_N = 1000;
const TARGET_CPU_PCT = 25;

/**
 * fping -i for N targets at one echo per second each. fping schedules every target's k-th
 * echo at start + k periods and only -i spreads them; -i is a floor between two sends, and
 * each send costs fping about 0.12 ms more (measured here), so the gap it really keeps is
 * -i + ~0.12 ms. -i 1000/N therefore falls behind (1000 targets at -i 1: ~880/s), and the
 * lowest value fping accepts, 0, sends each round as one burst. Aim for a round in ~95% of
 * the period instead.
 */
const FPING_SEND_COST_MS = 0.12;
function fpingIntervalMs(n: number): number {
  if (values['fping-interval-ms'] !== undefined) return Number(values['fping-interval-ms']);
  return Math.max(0, Math.round((950 / n - FPING_SEND_COST_MS) * 1000) / 1000);
}

interface Row {
  tool: string;
  n: number;
  t: Tally;
  late: number | null;
  fig: RunFigures;
  cpu: string;
  cpuPct: number;
  rss: string;
  notes: string[];
}

const mib = (kb: number): string => (kb / 1024).toFixed(0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function fleetprobeRow(net: TestNet, targets: string[]): Promise<Row> {
  const sampler = await Sampler.start(net.rootLink, SAMPLE_MS);
  const r = await runFleetprobe(targets, { count, intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, size: SIZE }, sampler, SETTLE_MS).catch(sampler.abandon);
  const samples = await sampler.stop();
  const fig = analyse(samples, ['main', 'engine'], targets.length / 10);
  const main = fig.cpuPct.main!;
  const eng = fig.cpuPct.engine!;
  const c = r.counters;
  return {
    tool: 'fleetprobe', n: targets.length, t: r, late: r.late, fig, cpuPct: main + eng,
    cpu: `${fmt(main + eng, 1)} (main ${fmt(main, 1)} + engine ${fmt(eng, 1)})`,
    rss: `${mib(r.peakRssKb.main)} + ${mib(r.peakRssKb.engine)} (main + engine)`,
    notes: [
      `veth (wire): ${fig.txPackets} requests out, ${fig.rxPackets} replies in`,
      `kernel (stime) part of that CPU: main ${fmt(fig.sysPct.main!, 1)}, engine ${fmt(fig.sysPct.engine!, 1)}; machine busy ${fmt(fig.machineBusyPct, 0)}% of one core`,
      `engine counters: sent ${c.sent}, matched ${c.matched}, foreign ${c.foreign}, stray ${c.stray}, ignored ${c.ignored}, bad checksum ${c.bad_checksum}, kernel stamps ${c.kernel_stamps}, user stamps ${c.user_stamps}`,
      `targets with errors: ${r.targetsWithErrors}${r.errorExample ? ` (e.g. "${r.errorExample}")` : ''}`,
    ],
  };
}

async function fpingRow(net: TestNet, targets: string[]): Promise<Row> {
  const sampler = await Sampler.start(net.rootLink, SAMPLE_MS);
  await sleep(SETTLE_MS);
  const opts = { count, periodMs: INTERVAL_MS, intervalMs: fpingIntervalMs(targets.length), timeoutMs: TIMEOUT_MS, size: SIZE };
  const r = await runFping(targets, opts, (pid) => sampler.watch('fping', pid)).catch(sampler.abandon);
  await sleep(SETTLE_MS);
  const samples = await sampler.stop();
  const fig = analyse(samples, ['fping'], targets.length / 10);
  const t = tally(r.targets.values());
  const cpu = fig.cpuPct.fping!;
  return {
    tool: 'fping', n: targets.length, t, late: null, fig, cpuPct: cpu, cpu: fmt(cpu, 1), rss: mib(r.maxRssKb),
    notes: [
      `veth (wire): ${fig.txPackets} requests out, ${fig.rxPackets} replies in; late replies are not reported by fping (it drops them silently, so they count as lost)`,
      `kernel (stime) part of that CPU: ${fmt(fig.sysPct.fping!, 1)}; machine busy ${fmt(fig.machineBusyPct, 0)}% of one core`,
      `fping ${r.args.join(' ')} (exit ${r.exitCode}); GNU time: user ${r.userS} s, sys ${r.sysS} s, elapsed ${r.elapsedS} s, max RSS ${r.maxRssKb} kB`,
      `targets in fping's report: ${r.targets.size} of ${targets.length}`,
    ],
  };
}

function tableRow(r: Row): string {
  const { t, fig } = r;
  const loss = t.sent > 0 ? (100 * (t.sent - t.received)) / t.sent : Number.NaN;
  const p = fig.pacing;
  return `| ${r.tool} | ${r.n} | ${t.sent} | ${t.received} | ${fmt(loss, 3)} | ${r.late ?? 'n/a'} | ${t.duplicates} | ${fmt(percentile(t.rttsMs, 50))} / ${fmt(percentile(t.rttsMs, 99))} | ${r.cpu} | ${r.rss} | ${fmt(p.min, 0)} / ${fmt(p.max, 0)} (even ${r.n / 10}; ${p.bursts} burst, ${p.gaps} gap windows of ${p.windows}) | ${fmt(fig.sendSpanS, 1)} s, ${fmt(t.sent / fig.sendSpanS, 0)}/s | ${fmt(fig.machineBusyPct, 0)} |`;
}

async function provenance(): Promise<string> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { allowFail: true });
  const dirty = await run('git', ['status', '--porcelain', '--', 'agent'], { allowFail: true });
  return `agent code: ${head.stdout.trim() || 'unknown'}${dirty.stdout.trim() ? ' + uncommitted changes under agent/' : ''}`;
}

async function main(): Promise<void> {
  const began = Date.now();
  await TestNet.cleanupStale();
  const net = await TestNet.create({ ipv6: false });
  const rows: Row[] = [];
  try {
    const targets: string[] = [];
    for (const n of sizes) {
      if (n > targets.length) targets.push(...(await net.addAddresses(n - targets.length)));
      const these = targets.slice(0, n);
      console.error(`# ${n} targets, ${count} echoes each: fleetprobe...`);
      rows.push(await fleetprobeRow(net, these));
      console.error(`# ${n} targets: fping -i ${fpingIntervalMs(n)}...`);
      rows.push(await fpingRow(net, these));
    }
  } finally {
    await net.destroy();
  }
  console.log(`\n${await provenance()}; ${count} echoes per target, interval ${INTERVAL_MS} ms, timeout ${TIMEOUT_MS} ms, ${SIZE} bytes; tools run one after the other\n`);
  console.log('| tool | targets | sent | received | loss % | late | dup | RTT p50 / p99 ms | CPU % of one core, sending period | peak RSS MiB | requests per 100 ms, min / max | sending span, rate | machine busy % of one core |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(tableRow(r));
  console.log('');
  for (const r of rows) for (const note of r.notes) console.log(`- ${r.tool} ${r.n}: ${note}`);
  const goal = rows.find((r) => r.tool === 'fleetprobe' && r.n === TARGET_N);
  if (goal) {
    const zeroLoss = goal.t.sent === TARGET_N * count && goal.t.received === goal.t.sent;
    const met = zeroLoss && goal.cpuPct <= TARGET_CPU_PCT;
    console.log(`\nTarget (${TARGET_N} targets/s, <= ${TARGET_CPU_PCT}% of one core, zero loss): ${met ? 'MET' : 'NOT MET'} — CPU ${fmt(goal.cpuPct, 1)}%, sent ${goal.t.sent}/${TARGET_N * count}, lost ${goal.t.sent - goal.t.received}`);
  }
  console.log(`\nReproduce (as root): cd /work/main && npx tsc -p tsconfig.json && node dist/bench/scale.js --count ${count} --sizes ${sizes.join(',')}`);
  console.log(`Runtime: ${((Date.now() - began) / 1000).toFixed(1)} s`);
}

await main();
