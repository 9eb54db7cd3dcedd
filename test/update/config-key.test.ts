// update.public_key_file: one key, checked like every other by the config schema (the file,
// `fleetprobe config check`); only a file directly in /etc/fleetprobe/ is accepted.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../agent/config/load.js';
import { FLEETPROBE_BIN } from '../helpers/agent-process.js';

test('update.public_key_file: a file in /etc/fleetprobe/, nothing else', () => {
  assert.equal(parseConfig('{}', 'c.json').update.public_key_file, undefined);
  assert.equal(parseConfig('{"update":{"public_key_file":"/etc/fleetprobe/update-signing.pub"}}', 'c.json').update.public_key_file, '/etc/fleetprobe/update-signing.pub');
  for (const bad of ['/tmp/key.pub', '/etc/fleetprobe/../shadow', '/etc/fleetprobe/sub/key.pub', 'update-signing.pub', '/etc/fleetprobe/', '/etc/fleetprobe/.hidden', '/etc/fleetprobe/a b']) {
    assert.throws(() => parseConfig(JSON.stringify({ update: { public_key_file: bad } }), 'c.json'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, ['update.public_key_file: expected a file directly in /etc/fleetprobe/']);
      return true;
    }, bad);
  }
  assert.throws(() => parseConfig('{"update":{"key":"x"}}', 'c.json'), /update\.key: unknown key/);
});

test('fleetprobe config check says it in one line, exit 78', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-config-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.json');
  writeFileSync(file, '{ "update": { "public_key_file": "/tmp/evil.pub" } }');
  const r = spawnSync(process.execPath, [FLEETPROBE_BIN, 'config', 'check', file], { encoding: 'utf8' });
  assert.equal(r.status, 78);
  assert.equal(r.stderr, `fleetprobe: ${file}: update.public_key_file: expected a file directly in /etc/fleetprobe/\n`);
});
