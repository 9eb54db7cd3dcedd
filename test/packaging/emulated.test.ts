// The ARM packages in emulated Debian trixie roots (qemu-user through binfmt_misc, chroot):
// installed with apt, with trixie's own Node 20 they run fleetprobe --version, load and use
// all three addons, and run a loopback probe and the agent where the emulator allows.
//
// Too slow for CI on a clean machine (making a root takes minutes under emulation): runs
// only with FLEETPROBE_EMULATED=arm64[,armhf], which scripts/test-deb-emulated sets.
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { builtDebs, copyRoot, emulationEnv, enableEmulation, inRoot, packageVersion, removeRoot, type Arch } from './helpers.js';
import { ADDON_CHECK, addonCheck, AGENT_SMOKE, outboxRows } from './smoke.js';

const requested = (process.env.FLEETPROBE_EMULATED ?? '').split(',').filter(Boolean) as Exclude<Arch, 'amd64'>[];
const UNAME: Record<string, RegExp> = { arm64: /^aarch64$/, armhf: /^armv7l$/ };

for (const arch of ['arm64', 'armhf'] as const) {
  const skip = requested.includes(arch) ? false : 'set FLEETPROBE_EMULATED (scripts/test-deb-emulated)';
  describe(`${arch} package in an emulated trixie root`, { skip }, () => {
    test('installs; the addons load; the CLI and the agent run', async (t) => {
      await enableEmulation(arch);
      const deb = (await builtDebs([arch]))[arch];
      const root = await copyRoot(arch);
      const sh = async (script: string): Promise<string> => (await inRoot(root, script, { env: emulationEnv(arch), timeoutMs: 15 * 60_000 })).stdout.trim();
      try {
        copyFileSync(deb, join(root, 'tmp', basename(deb)));
        assert.match(await sh('uname -m'), UNAME[arch]!);
        await sh(`apt-get install -y --no-install-recommends /tmp/${basename(deb)}`);
        assert.match(await sh('node --version'), /^v20\./);
        assert.equal(await sh('fleetprobe --version'), `fleetprobe ${packageVersion()}`);
        const addons = addonCheck(await sh(ADDON_CHECK));
        assert.equal(addons.sqlite, 42);
        assert.ok(addons.raw_sockets >= 1);
        assert.ok(addons.realtime_s > 1.7e9);
        // qemu-user (7.2, Debian 12's) refuses setsockopt(SO_TIMESTAMPNS) with ENOPROTOOPT, and
        // the probe engine needs it: probing can only be shown where the emulator allows it.
        const limited = addons.timestamps === 'on' ? false : `the emulator refuses kernel timestamps: ${addons.timestamps}`;
        await t.test('loopback probe and the agent', { skip: limited }, async () => {
          assert.match(await sh('fleetprobe probe -c 2 -i 0.2 127.0.0.1'), /2 packets transmitted, 2 received/);
          const out = await sh(AGENT_SMOKE);
          assert.match(out, /^run exit 0$/m, out);
          assert.ok(outboxRows(out) >= 1, out);
        });
        await sh('apt-get purge -y fleetprobe');
        assert.equal(await sh('getent passwd fleetprobe || echo none'), 'none');
      } finally {
        removeRoot(root);
      }
    });
  });
}
