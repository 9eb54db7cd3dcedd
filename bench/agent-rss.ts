// Agent RSS benchmark: the real daemon (`fleetprobe run`) with 100 targets, in steady state
// and across a simulated 1 h broker outage, should have flat memory: results go to the
// SQLite outbox on disk, never to a queue in memory. Three phases in one run, sampling the
// RSS of the agent's main process and of its engine child every second:
//   1. steady: 100 targets, 4 echoes each 250 ms apart, a round every 5 s, broker up;
//   2. outage: broker down; a 1 h backlog of 100 targets (72,000 results) is built in
//      minutes by a faster agent (500 targets, 1 echo, a round every second);
//   3. recovery: broker back, the realistic agent drains the backlog while probing, then
//      keeps running for a while.
// Targets are addresses inside a network namespace this script creates; the broker listens
// on 127.0.0.1 only. Run as root:
//   node dist/bench/agent-rss.js [--steady-s 180] [--warmup-s 60] [--targets 100]
//     [--outage-targets 500] [--backlog 72000] [--outbox-mb 256] [--outage-warmup-s 20] [--after-s 60]
//     [--csv samples.csv] [--agent-node-options=--max-semi-space-size=1]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfigInput } from '../agent/config/schema.js';
import { cidrContains } from '../test/helpers/address-plan.js';
import { AgentProcess } from '../test/helpers/agent-process.js';
import type { MqttSubscriber } from '../test/helpers/mqtt-subscriber.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { TestNet } from '../test/helpers/netns.js';
import { run } from '../test/helpers/run.js';
import { growthNotes, lastOutbox, outboxFacts, phaseMarkdown, samplesCsv, type PhaseReport } from './agent-rss-report.js';
import { memStats, outboxSample, Recorder, waitForEngine, type Recording } from './agent-rss-sampler.js';
import { fmt } from './stats.js';

const { values } = parseArgs({
  options: {
    'steady-s': { type: 'string', default: '180' },
    'warmup-s': { type: 'string', default: '60' },
    targets: { type: 'string', default: '100' },
    'outage-targets': { type: 'string', default: '500' },
    backlog: { type: 'string', default: '72000' },
    'outbox-mb': { type: 'string', default: '256' },
    'outage-warmup-s': { type: 'string', default: '20' },
    'after-s': { type: 'string', default: '60' },
    /** Also write every RSS sample to this file (CSV), to see steps and trends. */
    csv: { type: 'string' },
    /** NODE_OPTIONS for the agent (the engine inherits it), e.g. '--max-semi-space-size=1' to test V8 heap sizing. */
    'agent-node-options': { type: 'string' },
  },
});
const num = (k: Exclude<keyof typeof values, 'csv' | 'agent-node-options'>): number => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} takes a non-negative number`);
  return v;
};
const STEADY_S = num('steady-s');
const WARMUP_S = num('warmup-s');
const TARGETS = num('targets');
const OUTAGE_TARGETS = num('outage-targets');
const BACKLOG = num('backlog');
const OUTBOX_MB = num('outbox-mb');
const OUTAGE_WARMUP_S = num('outage-warmup-s');
const AFTER_S = num('after-s');
if (STEADY_S <= WARMUP_S) throw new Error('--steady-s must exceed --warmup-s (the slope is fitted after the warm-up)');

const DEVICE = 'pi-bench-rss';
const REALISTIC = { count: 4, interval_ms: 250, timeout_ms: 500, probe_interval: 5 };
const FAST = { count: 1, interval_ms: 250, timeout_ms: 500, probe_interval: 1 };
/** Bound on any wait, so a stuck phase fails instead of hanging the run. */
const PHASE_LIMIT_S = 900;

const abort = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // First signal: unwind through the finally blocks; a second one exits at once (the
    // helpers' exit hooks still remove namespaces and kill brokers).
    if (++signals > 1) process.exit(130);
    console.error(`# ${sig}: cleaning up`);
    abort.abort(new Error(`interrupted by ${sig}`));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abort.signal.aborted) return reject(abort.signal.reason as Error);
    const timer = setTimeout(() => (abort.signal.removeEventListener('abort', onAbort), resolve()), ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(abort.signal.reason as Error);
    }
    abort.signal.addEventListener('abort', onAbort, { once: true });
  });
}

function agentConfig(stateDir: string, brokerUrl: string, targets: readonly string[], p: typeof REALISTIC): ConfigInput {
  return {
    device: { id: DEVICE },
    state_dir: stateDir,
    log_level: 'info',
    clock: { assume_synced: true },
    agent_operations: { probe_interval: p.probe_interval },
    probes: targets.map((ip, i) => ({ name: `t${i}`, ip_address: ip, count: p.count, interval_ms: p.interval_ms, timeout_ms: p.timeout_ms })),
    outbox: { max_mb: OUTBOX_MB },
    uplink: { profile: 'mqtt', url: brokerUrl },
  };
}

/** A running agent with its engine's pid; fails loudly if the agent dies while watched. */
interface Running {
  agent: AgentProcess;
  enginePid: number;
  exited: () => boolean;
}

async function startAgent(dir: string, config: ConfigInput): Promise<Running> {
  const nodeOptions = values['agent-node-options'];
  const agent = AgentProcess.start(dir, config, nodeOptions ? { NODE_OPTIONS: nodeOptions } : {});
  let gone = false;
  void agent.exited.then(() => (gone = true));
  await agent.waitForLog(/running as device/, 30_000);
  return { agent, enginePid: await waitForEngine(agent.pid), exited: () => gone };
}

async function stopAgent(r: Running): Promise<void> {
  const exit = await r.agent.stop();
  if (exit.code !== 0) throw new Error(`agent exited with ${exit.code ?? exit.signal}:\n${r.agent.output.slice(-4000)}`);
}

/** Polls `done` every `everyMs` until true; throws if the agent dies or the phase overruns. */
async function until(r: Running, what: string, everyMs: number, done: () => boolean): Promise<void> {
  const deadline = performance.now() + PHASE_LIMIT_S * 1000;
  while (!done()) {
    if (r.exited()) throw new Error(`agent exited while waiting for ${what}:\n${r.agent.output.slice(-4000)}`);
    if (performance.now() > deadline) throw new Error(`${what}: not reached within ${PHASE_LIMIT_S} s`);
    await sleep(everyMs);
  }
}

const count = (log: string, re: RegExp): number => log.match(re)?.length ?? 0;

/** From the agent's log (its whole life so far) and the engine pids the recorder saw. */
function agentFacts(r: Running, rec: Recording): [string, string][] {
  const log = r.agent.output;
  return [
    ['agent log: rounds skipped (previous still running) / warn lines / error lines', `${count(log, /round skipped/g)} / ${count(log, /^warn:/gm)} / ${count(log, /^error:/gm)}`],
    ['engine child restarts', String(rec.enginePids.length - 1)],
  ];
}

/** Counts the backlog's results as the broker delivers them to a subscriber (seqs, deduplicated). */
function countDelivered(sub: MqttSubscriber, seen: Set<number>, maxSeq: number): void {
  for (const m of sub.messages.splice(0)) {
    const body = JSON.parse(m.payload.toString()) as { results?: { seq: number }[] };
    for (const r of body.results ?? []) if (r.seq <= maxSeq) seen.add(r.seq);
  }
}

async function provenance(): Promise<string> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { allowFail: true });
  const dirty = await run('git', ['status', '--porcelain', '--', 'agent'], { allowFail: true });
  return `agent code: ${head.stdout.trim() || 'unknown'}${dirty.stdout.trim() ? ' + uncommitted changes under agent/' : ''}`;
}

async function main(): Promise<void> {
  const began = performance.now();
  const stamp = (): string => `${((performance.now() - began) / 1000).toFixed(0)} s`;
  await TestNet.cleanupStale();
  const dir = mkdtempSync(join(tmpdir(), 'agent-rss-bench-'));
  // Mosquitto.start() makes its config dir in os.tmpdir(), and relaunch() after the outage
  // needs it again: keep it inside our own dir, away from sweeps of /tmp/fp-* by parallel
  // test runs (one deleted a stopped broker's dir mid-outage here).
  process.env.TMPDIR = dir;
  const stateDir = join(dir, 'state');
  const outboxPath = join(stateDir, 'outbox.db');
  // The agent refuses to create its state_dir (systemd's StateDirectory= does that).
  mkdirSync(stateDir, { mode: 0o700 });
  let net: TestNet | null = null;
  let broker: Mosquitto | null = null;
  let sub: MqttSubscriber | null = null;
  let current: Running | null = null;
  const phases: PhaseReport[] = [];
  // Each phase's table is printed as soon as it is done, so a later failure keeps it.
  const report = (p: PhaseReport): void => {
    phases.push(p);
    console.log(phaseMarkdown(p));
  };
  console.log(`## Agent RSS: ${TARGETS} targets, steady state and across a simulated 1 h outage\n`);
  console.log(`${await provenance()}; node ${process.version}${values['agent-node-options'] ? `; agent NODE_OPTIONS=${values['agent-node-options']}` : ''}. MiB = 1024² bytes; RSS = VmRSS, VmHWM = the kernel's peak (reset at each phase's start), anon = RssAnon.\n`);
  let afterVsSteady = '';
  try {
    net = await TestNet.create({ ipv6: false });
    const addrs = await net.addAddresses(Math.max(TARGETS, OUTAGE_TARGETS));
    for (const a of addrs) if (!cidrContains(net.block4, `${a}/32`)) throw new Error(`${a} is outside ${net.block4}: refusing to probe it`);
    broker = await Mosquitto.start();
    const realistic = agentConfig(stateDir, broker.url, addrs.slice(0, TARGETS), REALISTIC);
    const fast = agentConfig(stateDir, broker.url, addrs.slice(0, OUTAGE_TARGETS), FAST);

    // Phase 1: steady state.
    console.error(`# [${stamp()}] phase 1: ${TARGETS} targets, round every ${REALISTIC.probe_interval} s, ${STEADY_S} s`);
    current = await startAgent(dir, realistic);
    await current.agent.waitForLog(/uplink: connected/, 30_000);
    let rec = new Recorder({ agentPid: current.agent.pid, outboxPath, rssEveryMs: 1000, outboxEveryMs: 3000 }, current.enginePid);
    await until(current, 'the end of the steady phase', 500, () => rec.elapsedS >= STEADY_S);
    const steady = rec.stop();
    const gen = (r: Recording): number => (lastOutbox(r)?.generated ?? 0) - (r.outbox[0]?.generated ?? 0);
    report({
      title: 'Phase 1: steady state',
      what: `${TARGETS} targets, ${REALISTIC.count} echoes ${REALISTIC.interval_ms} ms apart, timeout ${REALISTIC.timeout_ms} ms, a round every ${REALISTIC.probe_interval} s; broker up. Start = first sample at ${WARMUP_S} s (after warm-up); slope fitted from there to the end.`,
      rec: steady, warmupS: WARMUP_S, agentPid: current.agent.pid,
      facts: [
        ['duration', `${fmt(STEADY_S, 0)} s`],
        ['rounds per target', fmt(gen(steady) / TARGETS, 1)],
        ...outboxFacts(steady),
        ...agentFacts(current, steady),
      ],
    });

    // Phase 2: outage. The broker goes first, as in a real outage; the agent then restarts
    // with the fast config on the same state_dir, so the backlog builds in its outbox.
    console.error(`# [${stamp()}] phase 2: broker down, ${OUTAGE_TARGETS} targets every ${FAST.probe_interval} s until ${BACKLOG} results are stored`);
    await broker.stop();
    await stopAgent(current);
    current = await startAgent(dir, fast);
    rec = new Recorder({ agentPid: current.agent.pid, outboxPath, rssEveryMs: 1000, outboxEveryMs: 1000 }, current.enginePid);
    await until(current, `${BACKLOG} stored results`, 250, () => (rec.latestOutbox()?.rows ?? 0) >= BACKLOG);
    const outageS = rec.elapsedS;
    const outage = rec.stop();
    await stopAgent(current);
    const backlog = outboxSample(outboxPath, 0);
    if (!backlog) throw new Error('cannot read the outbox after the outage');
    report({
      title: 'Phase 2: outage (backlog of a 1 h outage)',
      what: `Broker stopped; ${OUTAGE_TARGETS} targets, ${FAST.count} echo, a round every ${FAST.probe_interval} s (${OUTAGE_TARGETS / FAST.probe_interval} results/s) until the outbox holds >= ${BACKLOG} results; outbox max_mb ${OUTBOX_MB}. Start = first sample at ${OUTAGE_WARMUP_S} s; slope fitted from there to the end.`,
      rec: outage, warmupS: OUTAGE_WARMUP_S, agentPid: current.agent.pid,
      facts: [
        ['duration (agent start → backlog reached)', `${fmt(outageS, 1)} s`],
        ['results stored per second', fmt(gen(outage) / outageS, 0)],
        ['backlog after the agent stopped', `${backlog.rows} results, file + WAL ${(backlog.fileBytes / 1e6).toFixed(1)} MB`],
        ...outboxFacts(outage),
        ...agentFacts(current, outage),
      ],
    });

    // Phase 3: recovery. A subscriber counts the backlog's seqs as they reach the broker.
    console.error(`# [${stamp()}] phase 3: broker back, draining ${backlog.rows} results with ${TARGETS} targets probing`);
    await broker.relaunch();
    sub = await broker.subscriber([`/devices/${DEVICE}/events`]);
    const seen = new Set<number>();
    const target = backlog.delivered + backlog.rows;
    current = await startAgent(dir, realistic);
    // The drain takes seconds, not minutes: sample 4x faster so it is more than two points.
    rec = new Recorder({ agentPid: current.agent.pid, outboxPath, rssEveryMs: 250, outboxEveryMs: 100 }, current.enginePid);
    const running = current;
    let connectedAt: number | null = null;
    await until(current, 'the backlog drained', 100, () => {
      if (connectedAt === null && /uplink: connected/.test(running.agent.output)) connectedAt = rec.elapsedS;
      return (rec.latestOutbox()?.delivered ?? 0) >= target;
    });
    const drain = rec.stop();
    const drainedAt = drain.outbox.find((o) => o.delivered >= target)?.t ?? Number.NaN;
    const fromConnect = drainedAt - (connectedAt ?? 0);
    await sleep(1000); // the last PUBLISH reaches the subscriber
    countDelivered(sub, seen, backlog.generated);
    report({
      title: 'Phase 3a: recovery, draining the backlog',
      what: `Broker back; the ${TARGETS}-target agent restarted on the same outbox drains it while probing. Whole drain recorded (no warm-up), RSS every 250 ms.`,
      rec: drain, warmupS: 0, agentPid: current.agent.pid,
      facts: [
        ['drain time (uplink connected → backlog acknowledged)', `${fmt(fromConnect, 1)} s (${fmt(drainedAt, 1)} s from agent start)`],
        ['drain rate', `${fmt(backlog.rows / fromConnect, 0)} results/s`],
        ['backlog seqs received by a subscriber (unique)', `${seen.size} of ${backlog.rows}`],
        ...outboxFacts(drain),
      ],
    });

    console.error(`# [${stamp()}] phase 3b: ${AFTER_S} s after the drain`);
    rec = new Recorder({ agentPid: current.agent.pid, outboxPath, rssEveryMs: 1000, outboxEveryMs: 3000 }, current.enginePid);
    await until(current, 'the end of the after-drain phase', 500, () => rec.elapsedS >= AFTER_S);
    const after = rec.stop();
    report({
      title: 'Phase 3b: after the drain',
      what: `The same agent, ${AFTER_S} s after its backlog was acknowledged (probing continues, broker up).`,
      rec: after, warmupS: 0, agentPid: current.agent.pid,
      facts: [...outboxFacts(after), ...agentFacts(current, after)],
    });
    const s1 = memStats(steady, 'main', WARMUP_S);
    const s3 = memStats(after, 'main', 0);
    const e1 = memStats(steady, 'engine', WARMUP_S);
    const e3 = memStats(after, 'engine', 0);
    if (s1 && s3 && e1 && e3) {
      afterVsSteady = `Same config before the outage (end of phase 1) and after the drain (end of phase 3b): main ${fmt(s1.end, 1)} → ${fmt(s3.end, 1)} MiB, engine ${fmt(e1.end, 1)} → ${fmt(e3.end, 1)} MiB.`;
    }
    await stopAgent(current);
    current = null;
  } finally {
    if (current) await current.agent.stop(10_000).catch(() => undefined);
    await sub?.close().catch(() => undefined);
    await broker?.remove().catch((e: Error) => console.error(`# broker cleanup: ${e.message}`));
    await net?.destroy().catch((e: Error) => console.error(`# namespace cleanup: ${e.message}`));
    rmSync(dir, { recursive: true, force: true });
    if (values.csv) writeFileSync(values.csv, samplesCsv(phases));
  }

  if (afterVsSteady) console.log(`${afterVsSteady}\n`);
  const notes = growthNotes(phases);
  console.log(notes.length === 0 ? 'Growth: none above the thresholds (+2 MiB over a phase or +20 MiB/h).' : `Growth (above +2 MiB over a phase or +20 MiB/h):\n${notes.map((n) => `- ${n}`).join('\n')}`);
  console.log(`\nReproduce (as root): cd /work/main && npx tsc -p tsconfig.json && node dist/bench/agent-rss.js --steady-s ${STEADY_S} --warmup-s ${WARMUP_S} --targets ${TARGETS} --outage-targets ${OUTAGE_TARGETS} --backlog ${BACKLOG} --outbox-mb ${OUTBOX_MB} --outage-warmup-s ${OUTAGE_WARMUP_S} --after-s ${AFTER_S}${values.csv ? ` --csv ${values.csv}` : ''}${values['agent-node-options'] ? ` --agent-node-options='${values['agent-node-options']}'` : ''}`);
  console.log(`Runtime: ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

await main();
