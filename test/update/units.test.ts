// systemd/fleetprobe-update.path and .service as systemd reads them: `systemd-analyze
// verify` silent on both (under --root, with the host's units and the executables in
// place), the exposure score of the root service, and the settings the flow relies on.
// Needs systemd-analyze (the systemd package); systemd as PID 1 is not needed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEFAULT_STATE_DIR } from '../../agent/config/load.js';
import { REQUEST_FILE, UPDATE_SUBDIR } from '../../agent/update/protocol.js';

const DIR = fileURLToPath(new URL('../../../systemd/', import.meta.url));
const PATH_UNIT = join(DIR, 'fleetprobe-update.path');
const SERVICE = join(DIR, 'fleetprobe-update.service');
/** Stated in systemd/README.md; dpkg needs root, /usr and /etc writable, the network. */
const EXPOSURE_MAX = 2.7;

function analyze(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze: ${r.error.message} (install the systemd package)`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function entries(file: string): Array<[string, string, string]> {
  let section = '';
  const out: Array<[string, string, string]> = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) section = s[1]!;
    else out.push([section, line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]);
  }
  return out;
}
const value = (file: string, section: string, key: string): string | undefined => entries(file).filter(([s, k]) => s === section && k === key).at(-1)?.[2];

test(`fleetprobe-update.service: exposure at most ${EXPOSURE_MAX} (systemd-analyze security --offline)`, () => {
  const r = analyze(['security', '--offline=yes', '--no-pager', SERVICE]);
  const m = /Overall exposure level for fleetprobe-update\.service: (\d+\.\d+)/.exec(r.out);
  assert.ok(m, r.out);
  assert.ok(Number(m[1]) <= EXPOSURE_MAX, `exposure ${m[1]} > ${EXPOSURE_MAX}:\n${r.out.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
});

test('systemd-analyze verify says nothing about either unit (executables in place under --root)', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fp-verify-update-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const units = join(root, 'usr/lib/systemd/system');
  cpSync('/usr/lib/systemd/system', units, { recursive: true, verbatimSymlinks: true });
  for (const f of ['fleetprobe.service', 'fleetprobe-update.service', 'fleetprobe-update.path']) copyFileSync(join(DIR, f), join(units, f));
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  // verify checks that ExecStart's program exists and is executable, not what it does.
  for (const bin of ['node', 'fleetprobe']) {
    writeFileSync(join(root, 'usr/bin', bin), '#!/bin/sh\n');
    chmodSync(join(root, 'usr/bin', bin), 0o755);
  }
  const r = analyze(['verify', `--root=${root}`, 'fleetprobe-update.path', 'fleetprobe-update.service']);
  assert.equal(r.out, '');
  assert.equal(r.status, 0);
  // The harness would notice: without node, verify complains.
  rmSync(join(root, 'usr/bin/node'));
  assert.match(analyze(['verify', `--root=${root}`, 'fleetprobe-update.service']).out, /\/usr\/bin\/node is not executable/);
});

test('the path unit watches the request the agent writes and starts the oneshot updater', () => {
  assert.equal(value(PATH_UNIT, 'Path', 'PathExists'), join(DEFAULT_STATE_DIR, UPDATE_SUBDIR, REQUEST_FILE));
  assert.equal(value(PATH_UNIT, 'Path', 'Unit'), 'fleetprobe-update.service');
  assert.ok(value(PATH_UNIT, 'Install', 'WantedBy'));
  assert.equal(value(SERVICE, 'Service', 'Type'), 'oneshot');
  assert.equal(value(SERVICE, 'Service', 'User'), undefined, 'root: dpkg');
  assert.equal(entries(SERVICE).some(([s]) => s === 'Install'), false, 'started by the path unit only');
  const exec = value(SERVICE, 'Service', 'ExecStart')!;
  assert.match(exec, /^\/usr\/bin\/node \/usr\/lib\/fleetprobe\/dist\/agent\/update\/bin\.js$/);
  // The package ships dist/agent as compiled here: the script the unit runs exists.
  assert.ok(existsSync(fileURLToPath(new URL('../../agent/update/bin.js', import.meta.url))));
  assert.equal(value(SERVICE, 'Service', 'StateDirectory'), 'fleetprobe-update');
  assert.equal(value(SERVICE, 'Service', 'StateDirectoryMode'), '0700');
  assert.equal(value(SERVICE, 'Service', 'ProtectSystem'), undefined, 'dpkg writes /usr and /etc');
  assert.equal(value(SERVICE, 'Service', 'NoNewPrivileges'), 'yes');
  const caps = value(SERVICE, 'Service', 'CapabilityBoundingSet')!.split(/\s+/);
  for (const c of ['CAP_SYS_ADMIN', 'CAP_NET_ADMIN', 'CAP_SYS_MODULE', 'CAP_SYS_PTRACE', 'CAP_NET_RAW', 'CAP_SYS_BOOT']) assert.ok(!caps.includes(c), c);
  for (const c of ['CAP_CHOWN', 'CAP_FOWNER', 'CAP_DAC_OVERRIDE', 'CAP_SETUID', 'CAP_SETGID']) assert.ok(caps.includes(c), `${c}: dpkg, adduser and apt's _apt sandbox need it`);
  // Download + install + health + rollback must fit.
  assert.match(value(SERVICE, 'Service', 'TimeoutStartSec')!, /^\d+min$/);
  assert.ok(Number(value(SERVICE, 'Service', 'TimeoutStartSec')!.replace('min', '')) >= 30);
});
