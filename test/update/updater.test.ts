// The root updater as a program, with the real apt-get, dpkg and dpkg-deb acting on a
// throwaway root, a real apt repository (scripts/build-apt-repo, signed), a real https
// download (test CA) and the real Ed25519 check. Injected, and why: the clock runs with
// short timeouts (no 2-minute waits), and "is fleetprobe.service active" is always yes
// (systemd is not PID 1 here); the rest of the health check reads the status.json that
// the packages' postinst write where the agent would (see fixtures.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HttpsDownloader } from '../../agent/update/download.js';
import { resultFileSchema, type UpdateResult } from '../../agent/update/protocol.js';
import { Updater, type UpdaterDeps } from '../../agent/update/updater.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';
import { activeTrue, AptRoot, buildDeb, buildRepo, fileServer, quietLogger, updaterDeps } from './fixtures.js';

const T = { timeout: 120_000 };
let base: string;
let debs: Record<string, string>;
let repo: { repo: string; keyring: string };
let ca: TestCa;
let server: Awaited<ReturnType<typeof fileServer>>;
let pubKey: string;
let otherPubKey: string;
let n = 0;

function sign(deb: string, key: string): string {
  // The operator's command (packaging/README.md): Ed25519 over the whole file.
  return execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', key, '-rawin', '-in', deb]).toString('base64');
}
const sha256 = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

before(() => {
  base = mkdtempSync(join(tmpdir(), 'fp-updater-'));
  const out = join(base, 'debs');
  mkdirSync(out);
  debs = {
    '0.9.0': buildDeb(out, '0.9.0'),
    '1.0.0': buildDeb(out, '1.0.0'),
    '1.1.0': buildDeb(out, '1.1.0'),
    '1.2.0': buildDeb(out, '1.2.0', 'silent'),
    '1.3.0': buildDeb(out, '1.3.0', 'failing'),
  };
  // 0.9.0 is not in the repository: a device installed from a file.
  repo = buildRepo(base, [debs['1.0.0']!, debs['1.1.0']!, debs['1.2.0']!, debs['1.3.0']!]);
  for (const k of ['signing', 'other']) execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(base, `${k}.key`)]);
  pubKey = join(base, 'signing.pub');
  otherPubKey = join(base, 'other.pub');
  execFileSync('openssl', ['pkey', '-in', join(base, 'signing.key'), '-pubout', '-out', pubKey]);
  execFileSync('openssl', ['pkey', '-in', join(base, 'other.key'), '-pubout', '-out', otherPubKey]);
});

before(async () => {
  ca = await createTestCa('fp-update-ca');
  const other = buildDeb(join(base, 'debs'), '1.1.0', 'healthy', { pkg: 'notfleetprobe' });
  server = await fileServer(ca, new Map<string, Buffer | { redirect: string } | { length: number }>([
    ['/fleetprobe_1.1.0.deb', readFileSync(debs['1.1.0']!)],
    ['/fleetprobe_1.2.0.deb', readFileSync(debs['1.2.0']!)],
    ['/other.deb', readFileSync(other)],
    ['/moved', { redirect: '/fleetprobe_1.1.0.deb' }],
    ['/to-http', { redirect: 'http://127.0.0.1:1/fleetprobe_1.1.0.deb' }],
    ['/huge', { length: 8 * 1024 * 1024 }],
  ]));
});

after(async () => {
  await server?.close();
  await ca?.remove();
  rmSync(base, { recursive: true, force: true });
});

interface Device {
  root: AptRoot;
  agentDir: string;
  workDir: string;
  deps: (over?: Partial<UpdaterDeps>) => UpdaterDeps;
  request: (fields: Record<string, unknown>) => string;
  run: (over?: Partial<UpdaterDeps>) => Promise<UpdateResult>;
}

/** A device with `installed` installed from the repository's .deb (or a file, for 0.9.0). */
function device(installed = '1.0.0'): Device {
  const dir = join(base, `dev-${++n}`);
  const root = new AptRoot(join(dir, 'root'), repo);
  root.dpkgInstall(debs[installed]!);
  const agentDir = join(dir, 'agent-state/update');
  mkdirSync(agentDir, { recursive: true, mode: 0o700 });
  const workDir = join(dir, 'updater');
  const deps = (over: Partial<UpdaterDeps> = {}): UpdaterDeps => updaterDeps(root, agentDir, workDir, over);
  return {
    root, agentDir, workDir, deps,
    request: (fields) => {
      const id = `u-${n}-${Math.random().toString(36).slice(2, 8)}`;
      writeFileSync(join(agentDir, 'request.json'), JSON.stringify({ format: 1, id, requested_at: new Date().toISOString(), ...fields }), { mode: 0o600 });
      return id;
    },
    run: async (over = {}) => {
      await new Updater(deps(over)).runOnce();
      return resultFileSchema.parse(JSON.parse(readFileSync(join(agentDir, 'result.json'), 'utf8')));
    },
  };
}

function assertUnchanged(d: Device, version = '1.0.0'): void {
  assert.equal(d.root.installedVersion(), version);
  assert.equal(existsSync(join(d.agentDir, 'request.json')), false, 'the request is taken away');
  assert.equal(existsSync(join(d.workDir, 'journal.json')), false);
}

test('version from the apt source: installed, healthy, reported; the new .deb is kept for the next rollback', T, async () => {
  const d = device();
  const id = d.request({ version: '1.1.0' });
  const r = await d.run();
  assert.deepEqual({ ...r, finished_at: '' }, { format: 1, id, status: 'ok', installed_version: '1.1.0', previous_version: '1.0.0', attempted_version: '1.1.0', rolled_back: false, finished_at: '' });
  assertUnchanged(d, '1.1.0');
  assert.equal(d.root.statusVersion(), '1.1.0');
  assert.deepEqual(readdirSync(join(d.workDir, 'last-good')), [debs['1.1.0']!.split('/').at(-1)]);
  // Nothing left in the request directory but the result.
  assert.deepEqual(readdirSync(d.agentDir), ['result.json']);
  assert.equal(readFileSync(join(d.root.root, 'usr/lib/fleetprobe/VERSION'), 'utf8'), '1.1.0\n');
});

test('unknown version: nothing installed, the reason says so', T, async () => {
  const d = device();
  d.request({ version: '9.9.9' });
  const r = await d.run();
  assert.equal(r.status, 'error');
  assert.equal(r.error, 'version 9.9.9 is not available from the configured apt source');
  assert.equal(r.rolled_back, false);
  assert.equal(r.installed_version, '1.0.0');
  assertUnchanged(d);
});

test('a release whose agent never becomes healthy is rolled back to the cached previous .deb', T, async () => {
  const d = device();
  d.request({ version: '1.2.0' });
  const starts = activeTrue.starts;
  const r = await d.run();
  // The unit is started (reset-failed, start) after the install and after the rollback: a
  // crash-looping release can leave it failed at its start limit (seen under systemd 257).
  assert.equal(activeTrue.starts - starts, 2);
  assert.equal(r.status, 'error');
  assert.equal(r.rolled_back, true);
  assert.equal(r.installed_version, '1.0.0');
  assert.equal(r.attempted_version, '1.2.0');
  assert.match(r.error!, /^the agent 1\.2\.0 was not healthy within 4 s: the status file says version 1\.0\.0, not 1\.2\.0; rolled back to 1\.0\.0$/);
  assertUnchanged(d);
  // The rolled-back agent came up again (its postinst wrote the status).
  assert.equal(d.root.statusVersion(), '1.0.0');
  assert.deepEqual(readdirSync(join(d.workDir, 'last-good')).map((f) => f.split('_')[1]), ['1.0.0']);
});

test('a release whose install fails (postinst exits 1) is rolled back', T, async () => {
  const d = device();
  d.request({ version: '1.3.0' });
  const r = await d.run();
  assert.equal(r.rolled_back, true);
  assert.equal(r.installed_version, '1.0.0');
  assert.match(r.error!, /^apt-get install failed: .*; rolled back to 1\.0\.0$/);
  assertUnchanged(d);
  assert.equal(execFileSync('dpkg-query', [`--root=${d.root.root}`, '-W', '-f=${db:Status-Abbrev}', 'fleetprobe'], { encoding: 'utf8' }).trim(), 'ii');
});

test('no package of the installed version to roll back to: the update is refused before anything changes', T, async () => {
  const d = device('0.9.0');
  d.request({ version: '1.1.0' });
  const r = await d.run();
  assert.equal(r.status, 'error');
  assert.match(r.error!, /^no package of the installed version 0\.9\.0 to roll back to/);
  assertUnchanged(d, '0.9.0');
});

test('apt verifies the repository: a Packages file changed after signing is refused', T, async () => {
  const d = device();
  const bad = join(base, `tampered-${n}`);
  execFileSync('cp', ['-a', repo.repo, bad]);
  const packages = join(bad, `dists/stable/main/binary-${execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim()}/Packages`);
  writeFileSync(packages, readFileSync(packages, 'utf8').replace(/^SHA256: [0-9a-f]+$/gm, `SHA256: ${'0'.repeat(64)}`));
  writeFileSync(join(d.root.root, 'etc/apt/sources.list'), `deb [signed-by=${repo.keyring}] file:${bad} stable main\n`);
  d.request({ version: '1.1.0' });
  const r = await d.run();
  assert.equal(r.status, 'error');
  assert.match(r.error!, /^apt-get update failed: /);
  assertUnchanged(d);
});

test('URL: downloaded over https, sha256 and Ed25519 signature verified, installed', T, async () => {
  const d = device();
  const deb = debs['1.1.0']!;
  const id = d.request({ url: server.url('/moved'), sha256: sha256(deb), signature: sign(deb, join(base, 'signing.key')) });
  const r = await d.run({ publicKeyFile: pubKey, downloader: new HttpsDownloader({ ca: readFileSync(ca.caCert) }) });
  assert.equal(r.id, id);
  assert.equal(r.status, 'ok', r.error);
  assert.equal(r.installed_version, '1.1.0');
  assertUnchanged(d, '1.1.0');
});

test('URL: a wrong sha256, a bad signature, another package, no pinned key: refused, nothing installed', T, async () => {
  const deb = debs['1.1.0']!;
  const good = { url: server.url('/fleetprobe_1.1.0.deb'), sha256: sha256(deb), signature: sign(deb, join(base, 'signing.key')) };
  const dl = new HttpsDownloader({ ca: readFileSync(ca.caCert) });
  const other = join(base, 'debs', `notfleetprobe_1.1.0_${deb.split('_').at(-1)}`);
  const cases: Array<[Record<string, string>, Partial<UpdaterDeps>, RegExp]> = [
    [{ ...good, sha256: 'f'.repeat(64) }, {}, new RegExp(`^sha256 mismatch: expected f{64}, the download has ${good.sha256}$`)],
    [{ ...good, signature: sign(deb, join(base, 'other.key')) }, {}, /^the signature does not verify against the pinned key .*signing\.pub$/],
    [good, { publicKeyFile: otherPubKey }, /^the signature does not verify/],
    [{ ...good, signature: sign(debs['1.2.0']!, join(base, 'signing.key')) }, {}, /^the signature does not verify/],
    [{ url: server.url('/other.deb'), sha256: sha256(other), signature: sign(other, join(base, 'signing.key')) }, {}, /^the package is "notfleetprobe", not fleetprobe$/],
    [good, { publicKeyFile: null }, /^URL updates need a pinned public key/],
    [good, { publicKeyFile: join(base, 'debs') }, /^cannot read the pinned public key|is not a PEM public key/],
    [{ ...good, url: server.url('/to-http') }, {}, /^download: redirect refused: the target must be https:\/\/$/],
    [{ ...good, url: server.url('/nope') }, {}, /^download: HTTP 404 from 127\.0\.0\.1:\d+$/],
    [{ ...good, url: server.url('/huge') }, { maxDebBytes: 1024 * 1024 }, /^download: more than the 1048576-byte limit$/],
    [good, { downloader: new HttpsDownloader() }, /^download: (SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT)/],
  ];
  const d = device();
  for (const [fields, over, re] of cases) {
    d.request(fields);
    const r = await d.run({ publicKeyFile: pubKey, downloader: dl, ...over });
    assert.equal(r.status, 'error', JSON.stringify(fields));
    assert.match(r.error!, re);
    assert.equal(r.rolled_back, false);
    assertUnchanged(d);
  }
});

test('a power cut during dpkg: the next run finishes dpkg, finds the agent unhealthy and rolls back', T, async () => {
  const d = device();
  // What an interrupted update leaves: the request, the journal, the new package unpacked
  // but not configured, the previous .deb in the cache.
  const id = d.request({ version: '1.2.0' });
  const cache = join(d.workDir, 'last-good');
  mkdirSync(cache, { recursive: true });
  const prev = join(cache, debs['1.0.0']!.split('/').at(-1)!);
  execFileSync('cp', [debs['1.0.0']!, prev]);
  execFileSync('dpkg', [...d.root.dpkgOptions(), '--unpack', debs['1.2.0']!], { stdio: 'pipe' });
  assert.match(execFileSync('dpkg-query', [`--root=${d.root.root}`, '-W', '-f=${db:Status-Abbrev}', 'fleetprobe'], { encoding: 'utf8' }), /^iU/);
  writeFileSync(join(d.workDir, 'journal.json'), JSON.stringify({ id, phase: 'installing', architecture: 'x', previous_version: '1.0.0', previous_deb: prev, attempted_version: '1.2.0', candidate_deb: debs['1.2.0']!, started_at: new Date().toISOString() }));
  const logger = quietLogger();
  const r = await d.run({ logger });
  assert.equal(r.id, id);
  assert.equal(r.rolled_back, true);
  assert.equal(r.installed_version, '1.0.0');
  assert.match(r.error!, /^the agent 1\.2\.0 was not healthy after the interrupted install: .*; rolled back to 1\.0\.0$/);
  assert.ok(logger.lines.some((l) => /was interrupted while installing: finishing it/.test(l)), logger.lines.join('\n'));
  assertUnchanged(d);
  assert.equal(d.root.statusVersion(), '1.0.0');
});

test('a power cut during dpkg of a good release: the next run finishes dpkg and reports it installed', T, async () => {
  const d = device();
  const id = d.request({ version: '1.1.0' });
  const cache = join(d.workDir, 'last-good');
  mkdirSync(cache, { recursive: true });
  const prev = join(cache, debs['1.0.0']!.split('/').at(-1)!);
  execFileSync('cp', [debs['1.0.0']!, prev]);
  const started = new Date().toISOString();
  execFileSync('dpkg', [...d.root.dpkgOptions(), '--unpack', debs['1.1.0']!], { stdio: 'pipe' });
  writeFileSync(join(d.workDir, 'journal.json'), JSON.stringify({ id, phase: 'installing', architecture: 'amd64', previous_version: '1.0.0', previous_deb: prev, attempted_version: '1.1.0', candidate_deb: debs['1.1.0']!, started_at: started }));
  const r = await d.run();
  assert.equal(r.id, id);
  assert.equal(r.status, 'ok', r.error);
  assert.equal(r.installed_version, '1.1.0');
  assertUnchanged(d, '1.1.0');
  assert.equal(d.root.statusVersion(), '1.1.0');
});

test('a run with no request does nothing', T, async () => {
  const d = device();
  assert.equal(await new Updater(d.deps()).runOnce(), 'idle');
  assert.deepEqual(readdirSync(d.agentDir), []);
  rmSync(d.agentDir, { recursive: true });
  assert.equal(await new Updater(d.deps()).runOnce(), 'idle');
});
