// `fleetprobe run` as systemd sees it through $NOTIFY_SOCKET: READY, STATUS, WATCHDOG cadence
// from WATCHDOG_USEC, STOPPING; silence while the process is stopped (SIGSTOP) and while the
// probe loop is stalled (its engine child stopped) although the agent itself runs on.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AgentProcess } from '../helpers/agent-process.js';
import { type Datagram, monotonicS, NotifyListener } from './notify-listener.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fp-notify-agent-'));
  dirs.push(d);
  return d;
}

// Rounds every second; the stall limit is then 2 x (1 + 0.05 + 0.5) + 10 = 13.1 s.
function config(dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device: { id: 'pi-notify' },
    state_dir: dir,
    agent_operations: { probe_interval: 1 },
    probes: [{ name: 'lo4', ip_address: '127.0.0.1', count: 2, interval_ms: 50, timeout_ms: 500 }],
    ...extra,
  };
}

const WATCHDOG_USEC = '2000000'; // pings every second

async function start(t: { after(fn: () => unknown): void }, env: NodeJS.ProcessEnv = {}, extra: Record<string, unknown> = {}): Promise<{ listener: NotifyListener; agent: AgentProcess }> {
  const listener = await NotifyListener.start();
  t.after(() => listener.close());
  const dir = tempDir();
  const agent = AgentProcess.start(dir, config(dir, extra), { NOTIFY_SOCKET: listener.socket, WATCHDOG_USEC, ...env });
  t.after(async () => {
    agent.kill('SIGCONT');
    await agent.stop();
  });
  return { listener, agent };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function pings(listener: NotifyListener, from = -Infinity, to = Infinity): Datagram[] {
  return listener.with('WATCHDOG', '1').filter((m) => m.t > from && m.t < to);
}

function gaps(ds: Datagram[]): number[] {
  return ds.slice(1).map((d, i) => d.t - ds[i]!.t);
}

/** The engine child: the only child process of the agent. */
function engineChild(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  assert.equal(children.length, 1, `children of ${pid}: ${children.join(' ')}`);
  return children[0]!;
}

test('READY once probing (broker unreachable), STATUS lines, WATCHDOG every WATCHDOG_USEC/2 from the main pid, STOPPING then exit 0', async (t) => {
  // Nothing listens on port 1: the broker stays disconnected, and READY must not wait for it.
  const { listener, agent } = await start(t, {}, { uplink: { profile: 'mqtt', url: 'mqtt://127.0.0.1:1' } });
  const ready = await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  assert.ok(engineChild(agent.pid) > 0, 'the probe engine runs at READY');
  assert.match(ready.fields.STATUS ?? '', /^probing 1 target, [\d,]+ results? buffered, broker disconnected(, clock not synchronized)?$/);
  await listener.waitFor((m) => /, ([3-9]|\d{2,}) results buffered/.test(m.fields.STATUS ?? ''), 20_000, 'STATUS with 3+ results buffered');
  await sleep(3000);
  const beforeStop = pings(listener, ready.t - 1);
  assert.ok(beforeStop.length >= 5, `${beforeStop.length} pings`);
  for (const g of gaps(beforeStop)) assert.ok(g > 0.8 && g < 1.5, `ping gaps ${gaps(beforeStop).map((x) => x.toFixed(2)).join(' ')}`);
  assert.ok(listener.messages.every((m) => m.pid === agent.pid), 'every datagram comes from the main pid (NotifyAccess=main)');
  assert.equal(listener.with('READY').length, 1);

  const sigterm = monotonicS();
  const exit = await agent.stop();
  const stopS = monotonicS() - sigterm;
  assert.equal(exit.code, 0, agent.output);
  const stopping = listener.with('STOPPING', '1');
  assert.equal(stopping.length, 1);
  assert.equal(stopping[0]!.fields.STATUS, 'stopping: finishing rounds in flight');
  assert.ok(stopping[0]!.t >= sigterm);
  assert.ok(stopS < 5, `graceful stop took ${stopS.toFixed(1)} s`);
  assert.match(agent.output, /info: systemd: ready; watchdog ping every 1 s while healthy/);
  assert.doesNotMatch(agent.output, /cannot notify systemd/);
});

test('a stopped process (SIGSTOP) sends nothing: the gap systemd\'s watchdog acts on; pings resume on SIGCONT', async (t) => {
  const { listener, agent } = await start(t);
  await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  await sleep(2500);
  agent.kill('SIGSTOP');
  const stoppedAt = monotonicS();
  await sleep(5000);
  const contAt = monotonicS();
  agent.kill('SIGCONT');
  await listener.waitFor((m) => m.fields.WATCHDOG === '1' && m.t > contAt, 10_000, 'a ping after SIGCONT');
  // Datagrams already in flight when SIGSTOP landed may arrive a moment later.
  assert.deepEqual(listener.messages.filter((m) => m.t > stoppedAt + 0.1 && m.t < contAt).map((m) => m.text), []);
  const around = pings(listener, stoppedAt - 3, contAt + 10);
  const longest = Math.max(...gaps(around));
  assert.ok(longest >= 4.9, `longest gap ${longest.toFixed(2)} s: more than WATCHDOG_USEC, systemd would have acted`);
  await sleep(2500);
  const after = pings(listener, contAt);
  assert.ok(after.length >= 2, `${after.length} pings after SIGCONT`);
  assert.equal((await agent.stop()).code, 0, agent.output);
});

test('a stalled probe loop (engine child stopped): pings stop while the agent runs and says why; they resume when rounds complete', async (t) => {
  const { listener, agent } = await start(t);
  await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  await sleep(2000);
  const engine = engineChild(agent.pid);
  process.kill(engine, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(engine, 'SIGCONT');
    } catch {
      // already gone
    }
  });
  const stalledAt = monotonicS();
  const unhealthy = await listener.waitFor((m) => /^UNHEALTHY \(probe loop stalled: no probe round completed for \d+ s \(limit 13 s\)\)/.test(m.fields.STATUS ?? ''), 30_000, 'UNHEALTHY status');
  const since = unhealthy.t - stalledAt;
  assert.ok(since > 10 && since < 17, `unhealthy after ${since.toFixed(1)} s`);
  await sleep(6000);
  const silent = monotonicS();
  assert.deepEqual(pings(listener, unhealthy.t + 0.1, silent), [], 'no pings while unhealthy');
  // The agent itself runs on: its status keeps updating (the stall's age grows).
  assert.ok(listener.messages.some((m) => m.t > unhealthy.t + 1 && /^UNHEALTHY/.test(m.fields.STATUS ?? '')), 'status updates while unhealthy');
  assert.equal(agent.output.match(/error: unhealthy: probe loop stalled/g)?.length, 1, agent.output);
  process.kill(engine, 'SIGCONT');
  const resumed = await listener.waitFor((m) => m.fields.WATCHDOG === '1' && m.t > silent, 15_000, 'a ping after the engine resumed');
  assert.ok(resumed.t > silent);
  await agent.waitForLog(/info: healthy again/);
  await listener.waitFor((m) => m.t > resumed.t && /^probing 1 target/.test(m.fields.STATUS ?? ''), 10_000, 'a healthy status');
  assert.equal((await agent.stop()).code, 0, agent.output);
});

test('WATCHDOG_PID of another process: READY and STATUS but no pings (sd_watchdog_enabled)', async (t) => {
  const { listener, agent } = await start(t, { WATCHDOG_PID: '1' });
  await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  await sleep(3000);
  assert.deepEqual(pings(listener), []);
  assert.match(agent.output, /info: systemd: ready\n/);
  assert.equal((await agent.stop()).code, 0, agent.output);
  assert.equal(listener.with('STOPPING', '1').length, 1);
});

test('without NOTIFY_SOCKET the agent runs exactly as before: no notifications, no systemd log lines', async () => {
  const dir = tempDir();
  const agent = AgentProcess.start(dir, config(dir, { log_level: 'debug' }), { WATCHDOG_USEC });
  await agent.waitForLog(/committed lo4: seq \d+/);
  assert.equal((await agent.stop()).code, 0, agent.output);
  assert.doesNotMatch(agent.output, /systemd/);
});

test('SIGTERM during a round: STOPPING, the round in flight is committed, exit 0', async (t) => {
  // A round is 20 echoes 100 ms apart (loopback answers at once: about 1.9 s), on a 1 s grid:
  // the next one starts at the first grid tick after a commit, at most 1 s later, and runs
  // 1.9 s, so 1.1 s after a commit a round is in flight whatever the phase (0.6 s was not
  // always enough on a loaded machine).
  const { listener, agent } = await start(t, {}, { log_level: 'debug', probes: [{ name: 'lo4', ip_address: '127.0.0.1', count: 20, interval_ms: 100, timeout_ms: 500 }] });
  await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  await agent.waitForLog(/committed lo4: seq \d+/);
  const before = agent.committedSeqs().length;
  await sleep(1100);
  const exit = await agent.stop();
  assert.equal(exit.code, 0, agent.output);
  assert.ok(agent.committedSeqs().length > before, `the round in flight was not committed:\n${agent.output}`);
  assert.equal(listener.with('STOPPING', '1').length, 1);
});

test('SIGABRT (systemd\'s WatchdogSignal) ends the agent at once', async (t) => {
  const { listener, agent } = await start(t);
  await listener.waitFor((m) => m.fields.READY === '1', 20_000, 'READY=1');
  agent.kill('SIGABRT');
  const exit = await Promise.race([agent.exited, sleep(3000).then(() => null)]);
  assert.deepEqual(exit, { code: null, signal: 'SIGABRT' }, agent.output);
});
