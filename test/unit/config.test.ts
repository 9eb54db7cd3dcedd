import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ConfigError, configPath, loadConfigFile, parseConfig, resolveSettings } from '../../agent/config/load.js';

const EXAMPLE = fileURLToPath(new URL('../../../packaging/config.json', import.meta.url));

function problems(text: string): string[] {
  try {
    parseConfig(text, 'c.json');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return assert.fail('accepted');
}

test('the shipped example config is valid and works offline (loopback probe, no uplink)', () => {
  const c = loadConfigFile(EXAMPLE);
  assert.equal(c.probes[0]!.ip_address, '127.0.0.1');
  assert.equal(c.uplink, undefined);
  assert.equal(c.outbox.max_mb, 64);
});

test("the original agent's config shape is accepted, with defaults filled in", () => {
  const c = parseConfig(
    JSON.stringify({
      device: { id: 'pi-01' },
      agent_operations: { monitoring_enabled: true, probe_interval: 5 },
      probes: [{ name: 'gateway', type: 'icmp', ip_address: '192.0.2.1', count: 4, size: 40, interval_ms: 1000, timeout_ms: 1000 }],
      uplink: { profile: 'iot-core', host: 'mqtt.example', project: 'p', region: 'r', registry: 'g', private_key_file: '/k.pem' },
      outbox: { max_mb: 8 },
    }),
    'c.json',
  );
  assert.equal(c.device.id, 'pi-01');
  assert.equal(c.probes[0]!.size, 40);
  assert.equal(c.uplink?.profile, 'iot-core');
  if (c.uplink?.profile === 'iot-core') {
    assert.equal(c.uplink.port, 8883);
    assert.equal(c.uplink.algorithm, 'ES256');
    assert.equal(c.uplink.batch_max, 500);
  }
  assert.equal(c.outbox.synchronous, 'full');
  assert.equal(c.log_level, 'info');
  const minimal = parseConfig('{}', 'c.json');
  assert.deepEqual(minimal.agent_operations, { monitoring_enabled: true, probe_interval: 60 });
  assert.deepEqual(minimal.probes, []);
});

test('JSONC: comments and trailing commas; JSON errors name line and column', () => {
  const c = parseConfig('{\n  // a comment\n  "log_level": "debug", /* another */\n  "probes": [],\n}\n', 'c.json');
  assert.equal(c.log_level, 'debug');
  const p = problems('{\n  "log_level": "debug"\n  "probes": []\n}');
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^invalid JSON at line 3, column 3/);
});

test('unknown keys and wrong types: JSON path and reason, one line each', () => {
  const p = problems(
    JSON.stringify({
      devcie: {},
      agent_operations: { probe_interval: 'often' },
      probes: [{ name: 'a', ip_address: '10.0.0.300', colour: 'red' }, { name: 'b', ip_address: '::1', cron: 'every tuesday' }],
      uplink: { profile: 'mqtt', url: 'http://broker' },
    }),
  );
  const cron = p.filter((l) => l.startsWith('probes[1].cron: invalid cron expression'));
  assert.equal(cron.length, 1);
  assert.deepEqual(p.filter((l) => !cron.includes(l)).sort(), [
    'agent_operations.probe_interval: Invalid input: expected number, received string',
    'devcie: unknown key',
    'probes[0].colour: unknown key',
    'probes[0].ip_address: 10.0.0.300: not a valid IPv4 address',
    'uplink.url: expected mqtt://host:port or mqtts://host:port',
  ].sort());
  for (const line of p) assert.doesNotMatch(line, /\n/);
});

test('cross-field rules: duplicate names, cron with probe_interval, cert without key, missing iot-core keys', () => {
  assert.deepEqual(problems('{"probes":[{"name":"x","ip_address":"::1"},{"name":"x","ip_address":"::1"}]}'), ['probes[1].name: duplicate probe name "x"']);
  assert.deepEqual(problems('{"probes":[{"name":"x","ip_address":"::1","cron":"* * * * *","probe_interval":5}]}'), ['probes[0].cron: give either cron or probe_interval, not both']);
  assert.deepEqual(problems('{"uplink":{"profile":"mqtt","url":"mqtts://h:8883","cert_file":"/c.pem"}}'), ['uplink.key_file: cert_file and key_file go together']);
  assert.equal(problems('{"uplink":{"profile":"iot-core","host":"h"}}').length, 4);
});

test('a missing or unreadable file is one line', () => {
  assert.throws(() => loadConfigFile('/nonexistent/config.json'), (e: unknown) => e instanceof ConfigError && e.problems[0] === 'cannot read config: no such file');
});

test('path and settings defaults: --config, $FLEETPROBE_CONFIG, $STATE_DIRECTORY, host name', () => {
  assert.equal(configPath('/a.json', { FLEETPROBE_CONFIG: '/b.json' }), '/a.json');
  assert.equal(configPath(undefined, { FLEETPROBE_CONFIG: '/b.json' }), '/b.json');
  assert.equal(configPath(undefined, {}), '/etc/fleetprobe/config.json');
  const c = parseConfig('{}', 'c.json');
  assert.deepEqual(resolveSettings(c, { STATE_DIRECTORY: '/var/lib/fleetprobe:/other' }, 'pi-07'), {
    deviceId: 'pi-07', stateDir: '/var/lib/fleetprobe', outboxPath: '/var/lib/fleetprobe/outbox.db',
  });
  const d = parseConfig('{"device":{"id":"x1"},"state_dir":"/srv/fp","outbox":{"path":"/data/o.db"}}', 'c.json');
  assert.deepEqual(resolveSettings(d, { STATE_DIRECTORY: '/ignored' }, 'h'), { deviceId: 'x1', stateDir: '/srv/fp', outboxPath: '/data/o.db' });
});
