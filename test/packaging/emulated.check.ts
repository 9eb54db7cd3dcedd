// The ARM packages in emulated Debian trixie roots (qemu-user through binfmt_misc, chroot):
// installed with apt, with trixie's own Node 20 they run fleetprobe --version and load and use
// all three addons (SQLite writes a file database, a raw ICMP socket opens, the native addon
// reads the clock); purge removes the user.
//
// Not part of `npm test` (not a *.test.ts file): scripts/test-deb-emulated runs it, with
// FLEETPROBE_EMULATED=arm64,armhf. Making an emulated root takes minutes, and qemu-user
// (7.2, Debian 12's) refuses setsockopt(SO_TIMESTAMPNS) with ENOPROTOOPT, which the probe
// engine needs: under qemu-user the loopback probe and the agent cannot run. The test then
// asserts that this is the only thing in the way (the probe fails with exactly that error)
// and says so in its output; scripts/test-deb-vm runs the arm64 agent under a real kernel.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { builtDebs, copyRoot, emulationEnv, enableEmulation, inRoot, packageVersion, removeRoot, type Arch } from './helpers.js';
import { ADDON_CHECK, addonCheck, AGENT_SMOKE, outboxRows } from './smoke.js';

const requested = (process.env.FLEETPROBE_EMULATED ?? '').split(',').filter(Boolean);
const UNAME: Record<string, RegExp> = { arm64: /^aarch64$/, armhf: /^armv7l$/ };
if (requested.length === 0 || requested.some((a) => !(a in UNAME))) {
  throw new Error('set FLEETPROBE_EMULATED to arm64, armhf or arm64,armhf (scripts/test-deb-emulated does)');
}

for (const arch of requested as Exclude<Arch, 'amd64'>[]) {
  describe(`${arch} package in an emulated trixie root`, () => {
    test('installs; the addons load; the CLI runs; purge removes the user', async (t) => {
      await enableEmulation(arch);
      const deb = (await builtDebs([arch]))[arch];
      const root = await copyRoot(arch);
      const sh = async (script: string, allowFail = false): Promise<string> => {
        const r = await inRoot(root, script, { env: emulationEnv(arch), timeoutMs: 15 * 60_000, allowFail });
        return `${r.stdout.trim()}${allowFail ? `\n${r.stderr.trim()}\nexit ${r.code}` : ''}`;
      };
      try {
        copyFileSync(deb, join(root, 'tmp', basename(deb)));
        assert.match(await sh('uname -m'), UNAME[arch]!);
        await sh(`apt-get install -y --no-install-recommends /tmp/${basename(deb)}`);
        assert.match(await sh('node --version'), /^v20\./);
        assert.equal(await sh('fleetprobe --version'), `fleetprobe ${packageVersion()}`);
        assert.match(await sh('fleetprobe config check'), /^\/etc\/fleetprobe\/config\.json: ok/);
        const addons = addonCheck(await sh(ADDON_CHECK));
        assert.equal(addons.sqlite, 42);
        assert.ok(addons.raw_sockets >= 1);
        assert.ok(addons.realtime_s > 1.7e9);
        if (addons.timestamps === 'on') {
          assert.match(await sh('fleetprobe probe -c 2 -i 0.2 127.0.0.1'), /2 packets transmitted, 2 received/);
          const out = await sh(AGENT_SMOKE);
          assert.match(out, /^run exit 0$/m, out);
          assert.ok(outboxRows(out) >= 1, out);
          t.diagnostic(`${arch}: loopback probe and agent ran under qemu-user`);
        } else {
          // The emulator, not the package: the socket option is refused, nothing else fails.
          assert.match(addons.timestamps, /SO_TIMESTAMPNS.*(Protocol not available|ENOPROTOOPT)/);
          const probe = await sh('fleetprobe probe -c 1 127.0.0.1', true);
          assert.match(probe, /SO_TIMESTAMPNS: Protocol not available/);
          assert.match(probe, /exit 70$/);
          t.diagnostic(`${arch}: NOT RUN under qemu-user: loopback probe and agent (qemu refuses SO_TIMESTAMPNS: ${addons.timestamps})`);
        }
        await sh('apt-get purge -y fleetprobe');
        assert.equal(await sh('getent passwd fleetprobe || echo none'), 'none');
      } finally {
        removeRoot(root);
      }
    });
  });
}
