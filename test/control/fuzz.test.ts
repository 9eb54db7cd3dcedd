// Thousands of random and malformed messages on the config and command topics: the agent
// stays up, keeps probing with its config unchanged, and refuses (and counts) every one.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AgentProcess } from '../helpers/agent-process.js';
import { AgentPool, controlConfig, ControlCloud, loProbe, remoteDoc, tempStateDir } from '../helpers/control-cloud.js';
import { badCommand, badConfig, prng, type FuzzPayload } from '../helpers/control-fuzz.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const PER_TOPIC = 1500;
const CONCURRENCY = 16;

const dirs: string[] = [];
const pool = new AgentPool();
let broker: Mosquitto;
let cloud: ControlCloud;
let agent: AgentProcess;
let dir: string;

before(async () => {
  broker = await Mosquitto.start();
  cloud = await ControlCloud.connect(broker.url, 'pi-fuzz');
  dir = tempStateDir(dirs);
  agent = pool.start(dir, controlConfig(dir, 'pi-fuzz', broker.url));
  await cloud.pushConfig(remoteDoc(1, [loProbe('steady', '127.0.0.1', { probe_interval: 1 })]));
  await cloud.waitState((s) => s.config_version === 1, 20_000);
});

after(async () => {
  await pool.killAll();
  await cloud?.clearConfig().catch(() => undefined);
  await cloud?.close();
  await broker?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test(`${2 * PER_TOPIC} bad config and command messages (seed ${SEED}): all refused and counted, agent unharmed`, { timeout: 180_000 }, async () => {
  const rnd = prng(SEED);
  const messages: Array<FuzzPayload & { topic: 'config' | 'command' }> = [];
  for (let i = 0; i < PER_TOPIC; i++) {
    messages.push({ ...badConfig(rnd, i), topic: 'config' });
    messages.push({ ...badCommand(rnd, i), topic: 'command' });
  }
  const answerable = messages.filter((m) => m.id !== null).map((m) => m.id!);
  assert.ok(answerable.length > 300 && answerable.length < PER_TOPIC, `${answerable.length} answerable`);
  assert.ok(messages.some((m) => m.payload.length > 64 * 1024), 'some are over 64 KB');
  const persisted = readFileSync(join(dir, 'remote-config.json'), 'utf8');
  const steady = (): number => cloud.results().filter((r) => r.name === 'steady').length;
  const rejectedBefore = cloud.states().at(-1)!.rejected_messages;
  const started = Date.now();

  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < messages.length) {
        const m = messages[next++]!;
        if (m.topic === 'config') await cloud.sub.publish(cloud.topics.config, m.payload, { qos: 1, retain: false });
        else await cloud.command(m.payload);
      }
    }),
  );
  const s = await cloud.waitState((x) => x.rejected_messages >= rejectedBefore + messages.length, 90_000, `rejected_messages = ${messages.length}`);
  assert.equal(s.rejected_messages, rejectedBefore + messages.length);
  await cloud.sub.waitFor(() => cloud.replies().length >= answerable.length, 30_000, `${answerable.length} replies`);
  const replies = cloud.replies();
  assert.equal(replies.length, answerable.length, 'one reply per answerable message');
  assert.deepEqual(new Set(replies.map((r) => r.id)), new Set(answerable));
  const notRejected = replies.filter((r) => r.status !== 'rejected');
  assert.deepEqual(notRejected, [], 'every command was rejected');
  const took = (Date.now() - started) / 1000;

  // Config unchanged, in memory and on disk; probing goes on.
  assert.equal(s.config_version, 1);
  assert.equal(s.config_source, 'remote');
  assert.equal(s.monitoring_enabled, true);
  assert.equal(s.probes, 1);
  assert.notEqual(s.config_error, null);
  assert.equal(readFileSync(join(dir, 'remote-config.json'), 'utf8'), persisted);
  const before = steady();
  await cloud.sub.waitFor(() => steady() >= before + 2, 10_000, 'more results of the steady probe');
  // The journal is not flooded: refusals are logged at most 10 a minute.
  const refusalLines = agent.output.split('\n').filter((l) => /rejected|without a usable id/.test(l)).length;
  assert.ok(refusalLines <= 25, `${refusalLines} refusal log lines`);
  assert.equal(agent.output.match(/running as device/g)?.length, 1);
  assert.deepEqual(agent.lines().filter((l) => l.startsWith('error:')), [], 'nothing went wrong inside');
  assert.equal((await agent.stop()).code, 0, agent.output.slice(-2000));
  if (process.env.FUZZ_LOG) console.log(agent.lines().filter((l) => !/committed|debug: uplink/.test(l)).join('\n'));
  console.log(`fuzz: ${messages.length} messages refused in ${took.toFixed(1)} s, ${replies.length} answered`);
});
