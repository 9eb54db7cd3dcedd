// The policy is checked again after every DNS resolution of a remote probe: a host name
// that resolves to a refused address gets a resolve error (EPOLICY) and no packet. The
// local file's probes are the operator's own and are not held to the policy.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { AgentPool, controlConfig, ControlCloud, loProbe, remoteDoc, tempStateDir } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const dirs: string[] = [];
const pool = new AgentPool();
after(async () => {
  await pool.killAll();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test('a remote host name resolving to a refused address is skipped and reported each round; nothing is sent', { timeout: 90_000 }, async (t) => {
  const broker = await Mosquitto.start();
  t.after(() => broker.remove());
  const cloud = await ControlCloud.connect(broker.url, 'pi-resolve');
  t.after(() => cloud.close());
  const dir = tempStateDir(dirs);
  // Only 127.0.0.2 is allowed for remote config; "localhost" resolves to 127.0.0.1 (or ::1).
  const agent = pool.start(dir, controlConfig(dir, 'pi-resolve', broker.url, { safety: { allow_cidrs: ['127.0.0.2/32'] } }));
  // The file's own probe of 127.0.0.1 is not the policy's business.
  const own = await cloud.waitResult((r) => r.name === 'file-lo4', 20_000);
  assert.equal(own.received, 2);
  await cloud.pushConfig(remoteDoc(1, [loProbe('by-name', 'localhost'), loProbe('allowed', '127.0.0.2')]), { retain: false });
  await cloud.waitState((s) => s.config_version === 1);
  const refused = await cloud.waitResult((r) => r.name === 'by-name', 10_000);
  assert.equal(refused.sent, 0);
  assert.equal(refused.received, 0);
  assert.equal(refused.address, null);
  assert.equal(refused.loss_pct, 100);
  assert.equal(refused.errors.length, 1);
  const e = refused.errors[0]!;
  assert.equal(e.kind, 'resolve');
  assert.equal(e.code, 'EPOLICY');
  assert.match(e.message, /^localhost \((127\.0\.0\.1|::1)\): refused by the safety policy: .* is outside allow_cidrs$/);
  const allowed = await cloud.waitResult((r) => r.name === 'allowed', 10_000);
  assert.equal(allowed.received, 2);
  // Every round of it is skipped, and the state says why.
  await cloud.sub.waitFor(() => cloud.results().filter((r) => r.name === 'by-name').length >= 3, 10_000, 'three rounds of by-name');
  assert.ok(cloud.results().filter((r) => r.name === 'by-name').every((r) => r.sent === 0));
  const s = await cloud.waitState((x) => x.last_error !== null);
  assert.match(s.last_error!.message, /^remote probe skipped: .* is outside allow_cidrs/);
  assert.equal((await agent.stop()).code, 0);
});
