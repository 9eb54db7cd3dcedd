// The outbox's promises under abuse, with the real agent: kill -9 at random moments while
// probing and draining, and a long outage against a small size bound.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readOutboxStats } from '../../agent/outbox/read-only.js';
import { AgentProcess } from '../helpers/agent-process.js';
import { useTestNet } from '../helpers/fixtures.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttSubscriber } from '../helpers/mqtt-subscriber.js';
import type { TestNet } from '../helpers/netns.js';
import { tempDir } from '../helpers/outbox-fixtures.js';

let net: TestNet;
useTestNet((n) => (net = n), { ipv6: false });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function deliveredSeqs(sub: MqttSubscriber): number[] {
  return sub.messages.flatMap((m) => (JSON.parse(m.payload.toString()) as { results: { seq: number }[] }).results.map((r) => r.seq));
}

function integrity(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** Live child processes of `pid` (the engine child of an agent). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent pid (after the parenthesised name).
        return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Running, not merely a zombie: an orphan is reaped by PID 1 whenever PID 1 gets to it. */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

async function drainAll(dir: string, config: Record<string, unknown>, sub: MqttSubscriber, generated: number): Promise<void> {
  const agent = AgentProcess.start(dir, { ...config, agent_operations: { monitoring_enabled: false } });
  try {
    await agent.waitForLog(/running as device/);
    const deadline = Date.now() + 60_000;
    while (new Set(deliveredSeqs(sub)).size + readOutboxStats(join(dir, 'outbox.db')).dropped_total < generated) {
      if (Date.now() > deadline) throw new Error(`not drained: ${new Set(deliveredSeqs(sub)).size} of ${generated}\n${agent.output}`);
      await sleep(200);
    }
  } finally {
    assert.equal((await agent.stop()).code, 0, agent.output);
  }
}

test('kill -9 at random moments (25 times) while probing and draining: nothing committed is lost', async (t) => {
  const broker = await Mosquitto.start();
  t.after(() => broker.remove());
  const sub = await MqttSubscriber.connect(broker.url, ['/devices/pi-crash/events']);
  t.after(() => sub.close());
  const dir = tempDir(t, 'fp-crash-');
  const targets = await net.addAddresses(20);
  const config = {
    device: { id: 'pi-crash' },
    state_dir: dir,
    log_level: 'debug',
    agent_operations: { probe_interval: 1 },
    probes: targets.map((ip, i) => ({ name: `t${i}`, ip_address: ip, count: 1, timeout_ms: 300 })),
    uplink: { profile: 'mqtt', url: broker.url, batch_max: 7, inflight_max: 2 },
  };
  const committed = new Set<number>();
  const engines: number[] = [];
  for (let i = 0; i < 25; i++) {
    const agent = AgentProcess.start(dir, config);
    await agent.waitForLog(/running as device/);
    await sleep(300 + Math.random() * 1500);
    engines.push(...childrenOf(agent.pid));
    agent.kill('SIGKILL');
    await agent.exited;
    agent.committedSeqs().forEach((s) => committed.add(s));
    assert.equal(integrity(join(dir, 'outbox.db')), 'ok', `after kill ${i + 1}`);
  }
  assert.ok(committed.size > 100, `only ${committed.size} results committed over 25 runs`);
  const stats = readOutboxStats(join(dir, 'outbox.db'));
  assert.equal(stats.corrupt_total, 0);
  await drainAll(dir, config, sub, stats.generated_total);
  const delivered = new Set(deliveredSeqs(sub));
  for (const s of committed) assert.ok(delivered.has(s), `committed seq ${s} never delivered`);
  for (let s = 1; s <= stats.generated_total; s++) assert.ok(delivered.has(s), `seq ${s} of ${stats.generated_total} missing`);
  assert.equal(engines.length, 25, 'one engine child per agent');
  await sleep(500);
  assert.deepEqual(engines.filter(alive), [], 'engine child processes outlived their SIGKILLed agent');
});

test('a long outage with a small max_mb: file bounded, oldest dropped, delivered + queued + dropped == generated', async (t) => {
  const broker = await Mosquitto.start();
  t.after(() => broker.remove());
  await broker.stop();
  const dir = tempDir(t, 'fp-bound-');
  const targets = await net.addAddresses(300);
  const config = {
    device: { id: 'pi-bound' },
    state_dir: dir,
    agent_operations: { probe_interval: 1 },
    probes: targets.map((ip, i) => ({ name: `t${i}`, ip_address: ip, count: 1, timeout_ms: 300 })),
    outbox: { max_mb: 1 },
    uplink: { profile: 'mqtt', url: broker.url },
  };
  const agent = AgentProcess.start(dir, config);
  await agent.waitForLog(/running as device/);
  let maxOnDisk = 0;
  for (let i = 0; i < 30; i++) {
    await sleep(500);
    const onDisk = readdirSync(dir).filter((f) => f.startsWith('outbox.db')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    maxOnDisk = Math.max(maxOnDisk, onDisk);
  }
  assert.equal((await agent.stop()).code, 0, agent.output);
  const stats = readOutboxStats(join(dir, 'outbox.db'));
  assert.ok(stats.dropped_total > 0, `nothing dropped: ${JSON.stringify(stats)}`);
  assert.match(agent.output, /dropped/);
  // 1 MB for the database plus a bounded WAL.
  assert.ok(maxOnDisk <= 1.5 * 1024 * 1024, `outbox files reached ${maxOnDisk} bytes`);
  await broker.restart();
  const sub = await MqttSubscriber.connect(broker.url, ['/devices/pi-bound/events']);
  t.after(() => sub.close());
  await drainAll(dir, config, sub, stats.generated_total);
  const after = readOutboxStats(join(dir, 'outbox.db'));
  const delivered = new Set(deliveredSeqs(sub));
  assert.equal(delivered.size + after.rows + after.dropped_total, after.generated_total);
  assert.equal(after.rows, 0);
  // Oldest first: every delivered seq is newer than every dropped one.
  assert.equal(Math.min(...delivered), after.dropped_total + 1);
});
