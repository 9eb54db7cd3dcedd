// The releases of `e2e-systemd.js --real-debs`: full packages built by scripts/build-deb
// (through the packaging tests' build cache), installed into the trixie root with apt from
// the signed repository, so the package's own maintainer scripts, units and conffile run
// under the booted systemd around the updater.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtDebs } from '../packaging/helpers.js';

export interface RealReleases {
  /** For the repository: 0.1.0 (installed first), 0.2.0 (healthy), 0.3.0 (its agent exits at once). */
  repoDebs: string[];
  /** 0.4.0, healthy, by URL (not in the repository). */
  byUrl: string;
}

/**
 * 0.3.0 is the real 0.3.0 build with its entry point replaced by one that exits 1 (the
 * cheapest release that installs cleanly and whose agent never becomes healthy); its
 * md5sums are kept true to the files.
 */
function brokenRelease(out: string, deb: string): string {
  const dir = mkdtempSync(join(out, 'broken-'));
  try {
    execFileSync('dpkg-deb', ['-R', deb, dir], { stdio: 'pipe' });
    const entry = 'usr/lib/fleetprobe/dist/agent/bin/fleetprobe.js';
    writeFileSync(join(dir, entry), "// e2e: a release whose agent exits at once\nprocess.stderr.write('fleetprobe: e2e broken release, exiting\\n');\nprocess.exit(1);\n");
    const md5 = createHash('md5').update(readFileSync(join(dir, entry))).digest('hex');
    const sums = readFileSync(join(dir, 'DEBIAN/md5sums'), 'utf8').split('\n').map((l) => (l.endsWith(`  ${entry}`) ? `${md5}  ${entry}` : l));
    writeFileSync(join(dir, 'DEBIAN/md5sums'), sums.join('\n'));
    const file = join(out, 'fleetprobe_0.3.0_amd64.deb');
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', dir, file], { stdio: 'pipe' });
    return file;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function realReleases(out: string): Promise<RealReleases> {
  const built: string[] = [];
  for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.4.0']) built.push((await builtDebs(['amd64'], v)).amd64);
  return { repoDebs: [built[0]!, built[1]!, brokenRelease(out, built[2]!)], byUrl: built[3]! };
}

/** apt-get update + install of fleetprobe=<version> in the (not booted) root, as a user would. */
export function aptInstall(root: string, version: string): void {
  execFileSync('unshare', ['--mount', '--pid', '--fork', `--mount-proc=${root}/proc`, 'chroot', root,
    'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'DEBIAN_FRONTEND=noninteractive', 'LANG=C.UTF-8',
    'sh', '-ec', `apt-get update -q && apt-get install -y --no-install-recommends fleetprobe=${version}`], { stdio: ['ignore', 'pipe', 'pipe'] });
}
