import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readPersisted, resolveEffective, toStored, withMonitoring } from '../../agent/control/effective-config.js';
import { isNewerVersion, parseRemoteConfig } from '../../agent/control/remote-config.js';
import { SafetyPolicy } from '../../agent/control/safety-policy.js';
import { safetySchema } from '../../agent/config/schema.js';
import { fakeInterfaces, ops } from '../helpers/control-fakes.js';

const doc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
const policy = new SafetyPolicy(safetySchema.parse({ allow_cidrs: ['192.0.2.0/24'] }), fakeInterfaces);

test('version ordering: only a strictly newer version applies', () => {
  assert.equal(isNewerVersion(1, null), true);
  assert.equal(isNewerVersion(0, null), true);
  assert.equal(isNewerVersion(5, 4), true);
  assert.equal(isNewerVersion(4, 4), false);
  assert.equal(isNewerVersion(3, 4), false);
  assert.equal(isNewerVersion(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1), true);
});

test('a valid document: the operational config with defaults, and the document as sent', () => {
  const r = parseRemoteConfig(doc({ version: 3, probes: [{ name: 'gw', ip_address: '192.0.2.1' }] }));
  assert.ok(r.ok);
  assert.equal(r.version, 3);
  assert.deepEqual(r.ops.agent_operations, { monitoring_enabled: true, probe_interval: 60 });
  assert.equal(r.ops.probes[0]!.count, 4);
  assert.deepEqual(r.document, { probes: [{ name: 'gw', ip_address: '192.0.2.1' }] });
});

test('problems carry the JSON path and reason; the version is kept when it can be read', () => {
  const cases: Array<[unknown, number | null, Array<{ path: string; reason: RegExp }>]> = [
    [{ probes: [] }, null, [{ path: 'version', reason: /expected number/ }]],
    [{ version: -1, probes: [] }, null, [{ path: 'version', reason: /too small|>=0/i }]],
    [{ version: 1.5 }, null, [{ path: 'version', reason: /integer|int/i }]],
    [{ version: 2, probes: [{ name: 'a', ip_address: '192.0.2.1', count: 0 }] }, 2, [{ path: 'probes[0].count', reason: /too small|>=1/i }]],
    [{ version: 2, probes: [{ name: 'a', ip_address: '192.0.2.1' }, { name: 'a', ip_address: '192.0.2.2' }] }, 2, [{ path: 'probes[1].name', reason: /^duplicate probe name "a"$/ }]],
    [{ version: 2, uplink: { profile: 'mqtt' }, probes: [] }, 2, [{ path: 'uplink', reason: /^unknown key$/ }]],
    [{ version: 2, agent_operations: { probe_interval: 'often' } }, 2, [{ path: 'agent_operations.probe_interval', reason: /expected number/ }]],
    [[1, 2], null, [{ path: '', reason: /^expected a JSON object, got an array$/ }]],
  ];
  for (const [input, version, problems] of cases) {
    const r = parseRemoteConfig(doc(input));
    assert.equal(r.ok, false, JSON.stringify(input));
    if (r.ok) continue;
    assert.equal(r.version, version, JSON.stringify(input));
    assert.equal(r.problems.length, problems.length, JSON.stringify(r.problems));
    problems.forEach((p, i) => {
      assert.equal(r.problems[i]!.path, p.path);
      assert.match(r.problems[i]!.reason, p.reason);
    });
  }
  const proto = parseRemoteConfig(Buffer.from('{"version":9,"__proto__":{}}'));
  assert.ok(!proto.ok && proto.version === 9 && proto.problems[0]!.reason === 'forbidden key "__proto__" at (top level)');
  const huge = parseRemoteConfig(Buffer.alloc(70_000, 0x20));
  assert.ok(!huge.ok && /exceeds the 65536-byte limit/.test(huge.problems[0]!.reason));
});

test('at start: a persisted remote config is used when it still validates and passes the policy', () => {
  const file = ops({ probes: [{ name: 'file', ip_address: '127.0.0.1' }] });
  const remote = { version: 4, document: { probes: [{ name: 'r', ip_address: '192.0.2.5' }] }, applied_at: '2026-01-01T00:00:00.000Z' };
  const none = resolveEffective(file, { remote: null, monitoring: null }, policy);
  assert.equal(none.source, 'file');
  assert.equal(none.version, null);
  assert.equal(none.ops, file);
  const used = resolveEffective(file, { remote, monitoring: null }, policy);
  assert.equal(used.source, 'remote');
  assert.equal(used.version, 4);
  assert.deepEqual(used.ops.probes.map((p) => p.name), ['r']);
  assert.equal(used.problem, null);
  // The local policy has since been tightened: not used, and the reason is kept.
  const tight = new SafetyPolicy(safetySchema.parse({ allow_cidrs: ['198.51.100.0/24'] }), fakeInterfaces);
  const refused = resolveEffective(file, { remote, monitoring: null }, tight, new Date('2026-02-02T00:00:00Z'));
  assert.equal(refused.source, 'file');
  assert.equal(refused.version, null);
  assert.deepEqual(refused.problem, {
    version: 4, path: 'probes[0].ip_address', reason: 'persisted config not applied: 192.0.2.5 is outside allow_cidrs', at: '2026-02-02T00:00:00.000Z',
    problems: ['probes[0].ip_address: persisted config not applied: 192.0.2.5 is outside allow_cidrs'],
  });
  // A stop command applies over either.
  const stopped = resolveEffective(file, { remote, monitoring: { enabled: false, command_id: 'c1', at: 'x' } }, policy);
  assert.equal(stopped.ops.agent_operations.monitoring_enabled, false);
  assert.deepEqual(stopped.ops.probes.map((p) => p.name), ['r']);
});

test('the persisted file: round trip, empty, and not ours', () => {
  const p = { remote: { version: 1, document: { probes: [] }, applied_at: 'now' }, monitoring: null };
  assert.deepEqual(readPersisted(JSON.parse(JSON.stringify(toStored(p)))), { persisted: p, problem: null });
  assert.deepEqual(readPersisted({}), { persisted: { remote: null, monitoring: null }, problem: null });
  assert.deepEqual(readPersisted(null), { persisted: { remote: null, monitoring: null }, problem: null });
  assert.match(readPersisted({ format: 2 }).problem!, /not in the expected format/);
  const o = ops();
  assert.equal(withMonitoring(o, null), o);
  assert.equal(withMonitoring(o, { enabled: true, command_id: 'x', at: 'y' }), o);
  assert.equal(withMonitoring(o, { enabled: false, command_id: 'x', at: 'y' }).agent_operations.monitoring_enabled, false);
  assert.equal(o.agent_operations.monitoring_enabled, true, 'not mutated');
});
