// The amd64 package in a copy of a Debian trixie root (chroot, systemd not running): install
// with apt, run the CLI and the agent on trixie's own Node 20, upgrade, purge.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { builtDebs, copyRoot, inRoot, packageVersion, removeRoot, upgradeVersion } from './helpers.js';
import { ADDON_CHECK, addonCheck, AGENT_SMOKE, outboxRows } from './smoke.js';

let root: string;
let v1: string;
let v2: string;

before(async () => {
  const [a, b] = [await builtDebs(['amd64']), await builtDebs(['amd64'], upgradeVersion())];
  root = await copyRoot('amd64');
  for (const deb of [a.amd64, b.amd64]) copyFileSync(deb, join(root, 'tmp', basename(deb)));
  v1 = `/tmp/${basename(a.amd64)}`;
  v2 = `/tmp/${basename(b.amd64)}`;
});

after(() => {
  if (root) removeRoot(root);
});

const sh = async (script: string): Promise<string> => (await inRoot(root, script)).stdout.trim();

test('apt installs the package: user, config mode, state directory, enabled unit', async () => {
  await sh(`apt-get install -y --no-install-recommends ${v1}`);
  assert.equal(await sh("dpkg-query -W -f '${Status} ${Version}' fleetprobe"), `install ok installed ${packageVersion()}`);
  const [, , uid, , , home, shell] = (await sh('getent passwd fleetprobe')).split(':');
  assert.ok(Number(uid) < 1000, `uid ${uid} is not a system uid`);
  assert.equal(home, '/var/lib/fleetprobe');
  assert.equal(shell, '/usr/sbin/nologin');
  assert.equal(await sh('stat -c "%a %U %G" /etc/fleetprobe/config.json'), '640 root fleetprobe');
  assert.equal(await sh('stat -c "%a %U %G" /var/lib/fleetprobe'), '750 fleetprobe fleetprobe');
  assert.equal(await sh('stat -c "%a %U" /usr/bin/fleetprobe'), '755 root');
  // Enabled although systemd is not running here; starting it is left to the next boot.
  assert.equal(await sh('readlink /etc/systemd/system/multi-user.target.wants/fleetprobe.service'), '/usr/lib/systemd/system/fleetprobe.service');
});

test("fleetprobe --version and a loopback probe load the addons with trixie's Node", async () => {
  assert.match(await sh('node --version'), /^v20\./);
  assert.equal(await sh('fleetprobe --version'), `fleetprobe ${packageVersion()}`);
  const probe = await sh('fleetprobe probe -c 2 -i 0.2 127.0.0.1');
  assert.match(probe, /2 packets transmitted, 2 received, 0% packet loss/);
  assert.match(await sh('fleetprobe config check'), /^\/etc\/fleetprobe\/config\.json: ok/);
  const addons = addonCheck(await sh(ADDON_CHECK));
  assert.equal(addons.sqlite, 42);
  assert.equal(addons.raw_sockets, 1);
  assert.equal(addons.timestamps, 'on');
  assert.match(await sh('man -w fleetprobe 2>/dev/null || ls /usr/share/man/man1/fleetprobe.1.gz'), /fleetprobe\.1\.gz$/);
});

test('the agent runs as user fleetprobe with only CAP_NET_RAW and stores results (SQLite loads)', async () => {
  const out = await sh(AGENT_SMOKE);
  assert.match(out, /^run exit 0$/m, out);
  assert.ok(outboxRows(out) >= 1, out);
});

test('an upgrade keeps an edited conffile, its mode, and /var/lib/fleetprobe; keys become readable by the agent', async () => {
  await sh(`sed -i 's/"count": 4,/"count": 3,/' /etc/fleetprobe/config.json && echo keep >/var/lib/fleetprobe/marker`);
  // Made by root, the private key is 0600 root:root: the agent could not read it.
  await sh('fleetprobe keys generate --out /etc/fleetprobe');
  assert.equal(await sh('stat -c "%a %U %G" /etc/fleetprobe/ec_private.pem'), '600 root root');
  const edited = await sh('sha256sum /etc/fleetprobe/config.json');
  const state = await sh('cd /var/lib/fleetprobe && sha256sum outbox.db marker');
  await sh(`apt-get install -y --no-install-recommends ${v2}`);
  assert.equal(await sh('fleetprobe --version'), `fleetprobe ${upgradeVersion()}`);
  assert.equal(await sh('sha256sum /etc/fleetprobe/config.json'), edited);
  assert.equal(await sh('test ! -e /etc/fleetprobe/config.json.dpkg-new && stat -c "%a %U %G" /etc/fleetprobe/config.json'), '640 root fleetprobe');
  assert.equal(await sh('cd /var/lib/fleetprobe && sha256sum outbox.db marker'), state);
  assert.equal(await sh('stat -c "%a %U %G" /etc/fleetprobe/ec_private.pem'), '640 root fleetprobe');
  assert.equal(await sh('stat -c "%a %U %G" /etc/fleetprobe/ec_public.pem'), '644 root root');
  assert.ok(outboxRows(await sh('fleetprobe outbox stats --json')) >= 1);
});

test("purge removes the state, the config and the user, and leaves the admin's keys to root", async () => {
  await sh('apt-get purge -y fleetprobe');
  assert.equal(await sh('dpkg-query -W -f "${Status}" fleetprobe 2>/dev/null || true'), '');
  for (const path of ['/var/lib/fleetprobe', '/etc/fleetprobe/config.json', '/usr/lib/fleetprobe', '/usr/bin/fleetprobe', '/etc/systemd/system/multi-user.target.wants/fleetprobe.service']) {
    assert.equal(await sh(`test -e ${path} || test -L ${path} || echo gone`), 'gone', `${path} still there`);
  }
  assert.equal(await sh('getent passwd fleetprobe || echo none'), 'none');
  assert.equal(await sh('getent group fleetprobe || echo none'), 'none');
  assert.equal(await sh('cd /etc/fleetprobe && stat -c "%n %a %U %G" *'), 'ec_private.pem 640 root root\nec_public.pem 644 root root');
});
