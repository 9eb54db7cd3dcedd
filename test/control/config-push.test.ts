// Config from the cloud, end to end: the real agent, a real Mosquitto, the cloud's side
// publishing on /devices/{id}/config. Probes go to loopback only (the local safety section
// allows it for these tests).
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exportOutbox } from '../../agent/outbox/read-only.js';
import type { AgentProcess } from '../helpers/agent-process.js';
import { AgentPool, controlConfig, ControlCloud, loProbe, remoteDoc, tempStateDir } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const dirs: string[] = [];
const pool = new AgentPool();
let broker: Mosquitto;
let cloud: ControlCloud;
let agent: AgentProcess;
let dir: string;
const DEVICE = 'pi-config';

before(async () => {
  broker = await Mosquitto.start();
  cloud = await ControlCloud.connect(broker.url, DEVICE);
  dir = tempStateDir(dirs);
  agent = pool.start(dir, controlConfig(dir, DEVICE, broker.url));
});

after(async () => {
  await pool.killAll();
  await agent?.stop().catch(() => undefined);
  await cloud?.close();
  await broker?.remove();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function appliedAt(): string {
  const stored = JSON.parse(readFileSync(join(dir, 'remote-config.json'), 'utf8')) as { remote: { applied_at: string; version: number } };
  return stored.remote.applied_at;
}

test('before any remote config: the file applies, state says so', { timeout: 90_000 }, async () => {
  await cloud.waitResult((r) => r.name === 'file-lo4', 20_000, 'a result of the file probe');
  const s = await cloud.waitState((x) => x.probes === 1, 10_000);
  assert.equal(s.config_source, 'file');
  assert.equal(s.config_version, null);
  assert.equal(s.config_error, null);
  assert.equal(s.monitoring_enabled, true);
  assert.equal(s.device, DEVICE);
  assert.equal(s.rejected_messages, 0);
  for (const k of ['agent_version', 'outbox', 'dropped_total', 'last_delivery', 'last_error', 'uptime_s', 'skipped_rounds']) assert.ok(k in s, k);
});

test('a pushed config applies live: the next rounds use the new probes, same process, no result lost', { timeout: 90_000 }, async () => {
  await cloud.pushConfig(remoteDoc(1, [loProbe('remote-lo4', '127.0.0.2'), loProbe('remote-lo6', '::1')]));
  const s = await cloud.waitState((x) => x.config_version === 1, 10_000, 'config version 1 in the state');
  assert.equal(s.config_source, 'remote');
  assert.equal(s.probes, 2);
  await agent.waitForLog(/config version 1 applied: 2 probe\(s\)/);
  for (const name of ['remote-lo4', 'remote-lo6']) {
    const r = await cloud.waitResult((x) => x.name === name, 10_000, name);
    assert.equal(r.received, 2, JSON.stringify(r));
  }
  const at = Date.parse(appliedAt());
  // Let a few more rounds run, then look at everything delivered so far.
  await cloud.sub.waitFor(() => cloud.results().filter((r) => r.name === 'remote-lo4').length >= 3, 10_000, 'three rounds of the new config');
  for (const r of cloud.results()) {
    if (r.name === 'file-lo4') assert.ok(Date.parse(r.ts) <= at, `a round of the old probe started after the new config applied: ${r.ts}`);
    else assert.ok(Date.parse(r.ts) >= at - 5, `${r.name} ran before its config applied`);
  }
  assert.equal(agent.output.match(/running as device/g)?.length, 1, 'the agent did not restart');
});

test('an invalid config is rejected whole and reported with path, reason and version; the old one stays', { timeout: 90_000 }, async () => {
  await cloud.pushConfig(remoteDoc(2, [loProbe('ok-probe'), { ...loProbe('bad-probe'), count: 'four' }]));
  const s = await cloud.waitState((x) => x.config_error?.version === 2, 10_000, 'config_error for version 2');
  assert.equal(s.config_version, 1);
  assert.equal(s.config_source, 'remote');
  assert.equal(s.config_error?.path, 'probes[1].count');
  assert.match(s.config_error!.reason, /expected number/);
  assert.equal(s.rejected_messages, 1);
  // The cloud cannot send local-only sections.
  await cloud.pushConfig({ ...remoteDoc(3, [loProbe('x')]), safety: { max_pps: 1e6 } });
  const s2 = await cloud.waitState((x) => x.config_error?.version === 3, 10_000);
  assert.equal(s2.config_error?.path, 'safety');
  assert.equal(s2.config_error?.reason, 'unknown key');
  // Still probing with version 1.
  const count = (): number => cloud.results().filter((r) => r.name === 'remote-lo6').length;
  const before = count();
  await cloud.sub.waitFor(() => count() > before, 10_000, 'a new result of version 1');
  assert.ok(!cloud.results().some((r) => r.name === 'ok-probe' || r.name === 'x'));
});

test('a config that breaks the safety policy is rejected whole, with the reason', { timeout: 90_000 }, async () => {
  const cases: Array<[number, Array<Record<string, unknown>>, string, RegExp]> = [
    [4, [loProbe('fine'), loProbe('outside', '192.0.2.1')], 'probes[1].ip_address', /outside allow_cidrs/],
    [5, [loProbe('mcast', '224.0.0.1')], 'probes[0].ip_address', /multicast/],
    [6, [loProbe('bcast', '255.255.255.255')], 'probes[0].ip_address', /broadcast/],
    [7, [loProbe('fast', '127.0.0.1', { count: 10, interval_ms: 10 })], 'probes[0].interval_ms', /100 packets\/s within a round exceed max_pps 50/],
    [8, Array.from({ length: 30 }, (_, i) => loProbe(`many-${i}`, '127.0.0.1', { count: 2, interval_ms: 100 })), 'probes', /60 packets\/s in total .* exceed max_pps 50/],
    [9, [loProbe('big', '127.0.0.1', { size: 9000 })], 'probes[0].size', /9000 bytes exceed max_size 1472/],
  ];
  for (const [version, probes, path, reason] of cases) {
    await cloud.pushConfig(remoteDoc(version, probes));
    const s = await cloud.waitState((x) => x.config_error?.version === version, 10_000, `rejection of version ${version}`);
    assert.equal(s.config_error?.path, path, JSON.stringify(s.config_error));
    assert.match(s.config_error!.reason, /^safety policy: /);
    assert.match(s.config_error!.reason, reason);
    assert.equal(s.config_version, 1);
  }
  const names = new Set(cloud.results().map((r) => r.name));
  for (const n of ['fine', 'outside', 'mcast', 'bcast', 'fast', 'many-0', 'big']) assert.ok(!names.has(n), `${n} ran`);
});

test('versions: an older or equal one is ignored, a newer one applies (and clears config_error)', { timeout: 90_000 }, async () => {
  const rejectedBefore = cloud.states().at(-1)!.rejected_messages;
  await cloud.pushConfig(remoteDoc(1, [loProbe('same-version')]));
  await cloud.pushConfig(remoteDoc(0, [loProbe('older-version')]));
  await cloud.pushConfig(remoteDoc(20, [loProbe('v20')]));
  const s = await cloud.waitState((x) => x.config_version === 20, 10_000);
  assert.equal(s.config_error, null);
  assert.equal(s.rejected_messages, rejectedBefore, 'ignored versions are not rejections');
  await cloud.pushConfig(remoteDoc(19, [loProbe('v19')]));
  await cloud.pushConfig(remoteDoc(21, [loProbe('v21')]));
  await cloud.waitState((x) => x.config_version === 21, 10_000);
  await cloud.waitResult((r) => r.name === 'v21', 10_000);
  const names = new Set(cloud.results().map((r) => r.name));
  for (const n of ['same-version', 'older-version', 'v19']) assert.ok(!names.has(n), `${n} ran`);
});

test('after all that: one process, every committed result delivered or still queued', { timeout: 90_000 }, async () => {
  const exit = await agent.stop();
  assert.equal(exit.code, 0, agent.output);
  const delivered = new Set(cloud.results().map((r) => r.seq));
  exportOutbox(join(dir, 'outbox.db'), (line) => delivered.add((JSON.parse(line) as { seq: number }).seq));
  const committed = agent.committedSeqs();
  assert.ok(committed.length > 10);
  for (const seq of committed) assert.ok(delivered.has(seq), `seq ${seq} lost`);
  await cloud.clearConfig();
});
