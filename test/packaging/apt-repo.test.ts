// scripts/build-apt-repo for real: a signed repository served over HTTP on 127.0.0.1, used by
// plain apt in a copy of a trixie root (chroot) with the repository's key as Signed-By:
// install, then a newer version from the repository upgrades and keeps an edited conffile.
import assert from 'node:assert/strict';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { ARCHS, builtDebs, copyRoot, inRoot, packageVersion, removeRoot, REPO, run, upgradeVersion } from './helpers.js';

const KEYRING = '/usr/share/keyrings/fleetprobe-archive-keyring.gpg';

let work: string;
let repo: string;
let key: string;
let root: string;
let server: Server;
let port: number;
let v2Deb: string;

/** A static file server for the repository, as any web server would serve it. */
function serve(dir: string): Promise<Server> {
  const s = createServer((req, res) => {
    const path = join(dir, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir) || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(path).size });
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

const buildRepo = (debs: string[], extra: string[] = []): Promise<unknown> =>
  run(join(REPO, 'scripts/build-apt-repo'), ['--key', key, ...extra, '--out', repo, ...debs]);

const sh = async (script: string): Promise<string> => (await inRoot(root, script)).stdout.trim();

function useSources(keyring: string): void {
  // Only this repository: the root's nodejs and adduser satisfy the dependencies.
  writeFileSync(join(root, 'etc/apt/sources.list'), '');
  writeFileSync(
    join(root, 'etc/apt/sources.list.d/fleetprobe.sources'),
    `Types: deb\nURIs: http://127.0.0.1:${port}/\nSuites: stable\nComponents: main\nSigned-By: ${KEYRING}\n`,
  );
  copyFileSync(keyring, join(root, KEYRING.slice(1)));
}

before(async () => {
  const v1 = await builtDebs(ARCHS);
  v2Deb = (await builtDebs(['amd64'], upgradeVersion())).amd64;
  work = mkdtempSync(join(tmpdir(), 'fleetprobe-repo-'));
  repo = join(work, 'repo');
  key = join(work, 'key', 'signing.asc');
  await buildRepo(Object.values(v1), ['--generate-key']);
  server = await serve(repo);
  port = (server.address() as AddressInfo).port;
  root = await copyRoot('amd64');
});

after(() => {
  server?.close();
  if (root) removeRoot(root);
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the repository is signed and indexes every architecture', async () => {
  const dist = join(repo, 'dists/stable');
  for (const f of ['Release', 'InRelease', 'Release.gpg']) assert.ok(existsSync(join(dist, f)), f);
  const keyring = join(repo, 'fleetprobe-archive-keyring.gpg');
  await run('gpgv', ['--keyring', keyring, join(dist, 'InRelease')]);
  await run('gpgv', ['--keyring', keyring, join(dist, 'Release.gpg'), join(dist, 'Release')]);
  const release = readFileSync(join(dist, 'Release'), 'utf8');
  assert.match(release, /^Architectures: amd64 arm64 armhf$/m);
  for (const arch of ARCHS) {
    const packages = readFileSync(join(dist, `main/binary-${arch}/Packages`), 'utf8');
    assert.match(packages, new RegExp(`^Filename: pool/main/f/fleetprobe/fleetprobe_${packageVersion()}_${arch}\\.deb$`, 'm'));
    assert.ok(existsSync(join(dist, `main/binary-${arch}/Packages.gz`)));
    assert.match(release, new RegExp(` main/binary-${arch}/Packages.gz$`, 'm'));
  }
  // The private key never lands in what is published.
  const listing = (await run('find', [repo, '-type', 'f'])).stdout;
  assert.doesNotMatch(listing, /\.asc$|secret|private/);
});

test('apt installs from it with Signed-By, and a newer version upgrades keeping an edited conffile', async () => {
  mkdirSync(join(root, 'usr/share/keyrings'), { recursive: true });
  useSources(join(repo, 'fleetprobe-archive-keyring.gpg'));
  await sh('apt-get update');
  await sh('apt-get install -y --no-install-recommends fleetprobe');
  assert.equal(await sh('fleetprobe --version'), `fleetprobe ${packageVersion()}`);
  await sh(`sed -i 's/"log_level": "info"/"log_level": "debug"/' /etc/fleetprobe/config.json`);
  const edited = await sh('sha256sum /etc/fleetprobe/config.json');

  await buildRepo([v2Deb]);
  await sh('apt-get update');
  assert.match(await sh('apt-cache policy fleetprobe'), new RegExp(`Candidate: ${upgradeVersion().replace(/[.+]/g, '\\$&')}`));
  await sh('apt-get upgrade -y');
  assert.equal(await sh('fleetprobe --version'), `fleetprobe ${upgradeVersion()}`);
  assert.equal(await sh('sha256sum /etc/fleetprobe/config.json'), edited);
  assert.equal(await sh('stat -c "%a %U %G" /etc/fleetprobe/config.json'), '640 root fleetprobe');
  // Both versions stay in the pool: a fleet can go back with apt-get install fleetprobe=<old>.
  assert.match(await sh('apt-cache madison fleetprobe'), new RegExp(`fleetprobe \\|\\s+${packageVersion().replace(/[.+]/g, '\\$&')} \\|`));
});

test('apt refuses the repository when Signed-By names another key', async () => {
  const otherKey = join(work, 'other', 'signing.asc');
  const otherRepo = join(work, 'other-repo');
  await run(join(REPO, 'scripts/build-apt-repo'), ['--key', otherKey, '--generate-key', '--out', otherRepo, v2Deb]);
  useSources(join(otherRepo, 'fleetprobe-archive-keyring.gpg'));
  // Forget the indexes fetched with the right key: apt would keep using them.
  await sh('rm -f /var/lib/apt/lists/127.0.0.1*');
  const r = await inRoot(root, 'apt-get update --error-on=any', { allowFail: true });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(`${r.stdout}\n${r.stderr}`, /Missing key|NO_PUBKEY|not signed/);
  assert.equal(await sh('apt-cache madison fleetprobe'), '');
});
