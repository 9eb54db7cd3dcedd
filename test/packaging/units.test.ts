// scripts/deb/units decides which units of systemd/ a package ships and which its maintainer
// scripts enable, start and stop: all *.service, *.path and *.timer ship; fleetprobe.service
// and the .path triggers are enabled; what a trigger starts (the remote update, which runs
// apt and may be upgrading this very package) is never stopped or restarted by prerm/postinst.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO, run, unitList } from './helpers.js';

function unitDir(files: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetprobe-units-'));
  for (const f of files) writeFileSync(join(dir, f), '[Unit]\n');
  return dir;
}

test('every .service, .path and .timer ships; fleetprobe.service and .path units are enabled', async () => {
  const dir = unitDir(['fleetprobe.service', 'fleetprobe-update.path', 'fleetprobe-update.service', 'fleetprobe-cleanup.timer', 'README.md', 'fleetprobe.service.d']);
  try {
    assert.deepEqual(await unitList(dir), [
      { how: 'install', unit: 'fleetprobe-update.service' },
      { how: 'enable', unit: 'fleetprobe.service' },
      { how: 'enable', unit: 'fleetprobe-update.path' },
      { how: 'install', unit: 'fleetprobe-cleanup.timer' },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the repository units: fleetprobe.service is among them and enabled', async () => {
  const units = await unitList(join(REPO, 'systemd'));
  assert.deepEqual(units.find((u) => u.unit === 'fleetprobe.service'), { how: 'enable', unit: 'fleetprobe.service' });
});

test('a unit name that would break the maintainer scripts is refused, and so is a missing fleetprobe.service', async () => {
  for (const files of [['fleetprobe.service', 'bad name.service'], ['other.service']]) {
    const dir = unitDir(files);
    try {
      const r = await run(join(REPO, 'scripts/deb/units'), [dir], { allowFail: true });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^units: .+\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
