// The amd64 package under a real systemd (257, Debian trixie) booted with systemd-nspawn:
// installed with apt-get into a copy of a trixie root, booted, and checked from inside by
// scripts/systemd-test/checks.sh and deb-checks.sh (READY, STATUS, user fleetprobe with only
// CAP_NET_RAW, buffering with no broker, graceful stop, watchdog restarts, exit 78 not
// looping; then, with systemd running, an upgrade keeping the edited conffile and the outbox,
// and purge). Each check is one test here; a check that did not report is a failure.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { builtDebs, ensureCachedRoot, REPO, run, upgradeVersion } from './helpers.js';
import { join } from 'node:path';

const CHECKS = [
  'active', 'no-restarts', 'status-line', 'ready-logged',
  'main-user', 'main-caps', 'main-sandbox', 'engine-user', 'engine-caps', 'engine-sandbox',
  'buffering', 'state-dir', 'config-perms', 'journal-priorities', 'journal-no-colour',
  'verify-v257', 'security-v257', 'stop-graceful', 'stop-logged', 'stop-kept-results', 'start-again',
  'watchdog-sigstop', 'watchdog-abort', 'watchdog-health',
  'config-error-no-loop', 'config-error-logged', 'recovers', 'restart-policy', 'memory',
  'upgrade-installed', 'upgrade-restarted', 'upgrade-kept-conffile', 'upgrade-kept-outbox', 'upgrade-no-dpkg-prompt',
  'purge-removed', 'purge-stopped', 'purge-user',
];

const results = new Map<string, { pass: boolean; detail: string }>();
let output = '';

before(async () => {
  const [v1, v2] = [(await builtDebs(['amd64'])).amd64, (await builtDebs(['amd64'], upgradeVersion())).amd64];
  const root = await ensureCachedRoot('amd64');
  const r = await run(join(REPO, 'scripts/test-systemd'), ['--deb', v1, '--upgrade', v2], {
    env: { ...process.env, FLEETPROBE_TEST_ROOT: root },
    allowFail: true,
    timeoutMs: 10 * 60_000,
  });
  output = `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
  for (const m of r.stdout.matchAll(/^(PASS|FAIL) ([\w-]+): (.*)$/gm)) results.set(m[2]!, { pass: m[1] === 'PASS', detail: m[3]! });
  // 77 is "cannot run here": in this suite that is a failure, not a skip.
  assert.ok(r.code === 0 || r.code === 1, `scripts/test-systemd did not run its checks:\n${output}`);
  assert.match(r.stdout, /^DONE$/m, output);
});

for (const name of CHECKS) {
  test(name, () => {
    const result = results.get(name);
    assert.ok(result, `check ${name} did not report:\n${output}`);
    assert.ok(result.pass, `${name}: ${result.detail}`);
  });
}

test('no check ran that this list does not name', () => {
  assert.deepEqual([...results.keys()].filter((n) => !CHECKS.includes(n)), []);
});
