// Precision benchmark: fleetprobe against iputils ping (kernel timestamps), on the same
// namespace path at the same time, idle and while the agent's main event loop stalls 50 ms
// every 100 ms. Both tools are also held against the wire: tcpdump's kernel timestamps of
// the very same packets on the veth.
// Run as root: node dist/bench/precision.js [--count N] [--interval S] [--delay MS]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EngineClient } from '../agent/probe/icmp/engine-client.js';
import { IcmpProber } from '../agent/probe/icmp/icmp-prober.js';
import { Resolver } from '../agent/probe/resolve.js';
import { TestNet } from '../test/helpers/netns.js';
import { pingRef } from '../test/helpers/ping-ref.js';
import { startResponder } from '../test/helpers/responder-control.js';
import { fmt, median, percentile } from './stats.js';
import { type WireEcho, WireCapture } from './wire-capture.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '500' }, interval: { type: 'string', default: '0.02' }, delay: { type: 'string', default: '5' } },
});
const count = Number(values.count);
const intervalS = Number(values.interval);
const delayMs = Number(values.delay);

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** |tool - wire| per packet, in send order. */
function wireErrors(rtts: readonly (number | null)[], echoes: WireEcho[]): number[] {
  const errs: number[] = [];
  rtts.forEach((r, i) => {
    const e = echoes[i];
    if (r !== null && e?.rep !== undefined) errs.push(Math.abs(r - (e.rep - e.req) * 1000));
  });
  return errs;
}

async function scenario(prober: IcmpProber, engine: EngineClient, net: TestNet, label: string, stall: boolean, dir: string): Promise<string> {
  const target = net.hostAddr4;
  const capture = await WireCapture.start(net.rootLink, join(dir, 'cap.pcap'));
  const timer = stall ? setInterval(() => busy(50), 100) : null;
  const [ours, ref] = await Promise.all([
    prober.runRound([{ name: target, target, family: 4, count, size: 56, interval_ms: intervalS * 1000, timeout_ms: 1000 }], new Date()),
    pingRef(target, { count, intervalS }),
  ]);
  if (timer) clearInterval(timer);
  const wire = await capture.stop();
  const sorted = (m: Map<number, WireEcho> | undefined): WireEcho[] => [...(m?.values() ?? [])].sort((a, b) => a.req - b.req);
  const oursWire = sorted(wire.get(engine.identifier!));
  const pingId = [...wire.keys()].find((id) => id !== engine.identifier);
  const pingWire = sorted(pingId === undefined ? undefined : wire.get(pingId));
  const a = ours[0]!.rtts_ms;
  const pairDiffs: number[] = [];
  a.forEach((r, i) => {
    const p = ref.rtts[i];
    if (r !== null && p !== null && p !== undefined) pairDiffs.push(Math.abs(r - p));
  });
  const ow = wireErrors(a, oursWire);
  const pw = wireErrors(ref.rtts, pingWire);
  const got = a.filter((r): r is number => r !== null);
  const pr = ref.rtts.filter((r): r is number => r !== null);
  return `| ${label} | ${stall ? '50 ms stall every 100 ms' : 'idle'} | ${count} | ${fmt(median(got))} | ${fmt(median(pr))} | ${fmt(Math.abs(median(got) - median(pr)))} | ${fmt(median(pairDiffs))} / ${fmt(percentile(pairDiffs, 99))} | ${fmt(median(ow))} / ${fmt(percentile(ow, 99))} | ${fmt(median(pw))} / ${fmt(percentile(pw, 99))} | ${count - got.length}/${count - pr.length} |`;
}

async function main(): Promise<void> {
  await TestNet.cleanupStale();
  const dir = mkdtempSync(join(tmpdir(), 'fp-precision-'));
  const net = await TestNet.create({ ipv6: false });
  const engine = new EngineClient();
  const prober = new IcmpProber(engine, new Resolver());
  const rows: string[] = [];
  try {
    await engine.start();
    // Warm the path and the code so that the first packets do not measure module loading.
    await prober.runRound([{ name: 'w', target: net.hostAddr4, family: 4, count: 50, size: 56, interval_ms: 5, timeout_ms: 500 }], new Date());
    rows.push(await scenario(prober, engine, net, 'veth, kernel replies', false, dir));
    rows.push(await scenario(prober, engine, net, 'veth, kernel replies', true, dir));
    const responder = await startResponder(net, { delayMs, family: 4 });
    try {
      rows.push(await scenario(prober, engine, net, `veth, responder ${delayMs} ms`, false, dir));
      rows.push(await scenario(prober, engine, net, `veth, responder ${delayMs} ms`, true, dir));
    } finally {
      await responder.stop();
    }
    const c = await engine.counters();
    console.log(`engine: ${c.kernel_stamps} replies timed by kernel stamps, ${c.user_stamps} by the user-space fallback`);
  } finally {
    await prober.close();
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('| path | agent main loop | packets | fleetprobe median ms | ping median ms | abs diff of medians | abs diff by packet index, median / p99 | fleetprobe vs wire, median / p99 | ping vs wire, median / p99 | lost (ours/ping) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();
