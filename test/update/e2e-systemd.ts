// The whole remote update under a real systemd (not a *.test.js: it needs the cached trixie
// root of scripts/test-systemd and takes a few minutes). Run after the build, as root:
//
//   node dist/test/update/e2e-systemd.js
//
// A Debian trixie root (overlay over FLEETPROBE_TEST_ROOT, never modified) gets the agent
// as scripts/test-systemd installs it, the units fleetprobe.service, fleetprobe-update.path
// (enabled) and fleetprobe-update.service as they ship, a signed apt repository (made by
// scripts/build-apt-repo) as its only apt source, and fleetprobe 0.1.0 installed with dpkg.
// The releases 0.2.0 (healthy) and 0.3.0 (its agent never starts: a drop-in replaces
// ExecStart with /bin/false) are small packages that set the agent's version and restart
// fleetprobe.service from their postinst, as the real package does. Then it boots with
// systemd-nspawn (host network: the agent reaches a Mosquitto started here) and, from the
// cloud side, sends `update` 0.2.0 (expects accepted, then ok) and 0.3.0 (accepted, then
// error with rolled_back) and a URL update of 0.4.0 (https from a server here, sha256 and
// Ed25519 signature; the test CA is trusted through a drop-in), then 0.5.0 with a power cut
// in the middle of its postinst (the container is killed, then booted again: the updater
// started by PathExists= at boot finishes dpkg and reports), checks the versions the agent reports and that its outbox stream
// survived both, and prints the updater's journal and systemd-analyze under systemd 257.
//
//   node dist/test/update/e2e-systemd.js --real-debs
//
// The same flow with full packages of scripts/build-deb (e2e-real-debs.ts): no agent
// installed by hand; 0.1.0 installed with apt from the signed repository (its postinst
// makes the user and enables fleetprobe.service and fleetprobe-update.path), the config
// edited afterwards as an admin would (a conffile: it must survive every update); 0.2.0
// healthy, 0.3.0 the real build with an entry point that exits 1, 0.4.0 by URL. No power
// cut in this mode (it needs a release whose postinst sleeps).
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlCloud } from '../helpers/control-cloud.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { createHash } from 'node:crypto';
import { createTestCa } from '../helpers/tls-fixtures.js';
import { buildRepo, fileServer, REPO_ROOT } from './fixtures.js';
import { aptInstall, realReleases } from './e2e-real-debs.js';

const BASE = process.env.FLEETPROBE_TEST_ROOT ?? '/var/cache/fleetprobe-test/trixie-amd64.tmp';
const DEVICE = 'pi-update-e2e';
const REAL = process.argv.includes('--real-debs');
const LIB = join(REPO_ROOT, 'scripts/systemd-test/lib.sh');
const sh = (script: string): string => execFileSync('bash', ['-c', `. '${LIB}'; ${script}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const log = (m: string): void => void process.stderr.write(`e2e-update: ${m}\n`);
let failures = 0;
function check(ok: boolean, what: string, detail = ''): void {
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failures++;
}

function release(out: string, version: string, broken: boolean, slow = false): string {
  const d = mkdtempSync(join(out, 'pkg-'));
  mkdirSync(join(d, 'DEBIAN'));
  mkdirSync(join(d, 'usr/lib/fleetprobe'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(d, 'usr/lib/fleetprobe/package.json'), JSON.stringify({ ...pkg, version }, null, 2));
  if (broken) {
    mkdirSync(join(d, 'usr/lib/systemd/system/fleetprobe.service.d'), { recursive: true });
    writeFileSync(join(d, 'usr/lib/systemd/system/fleetprobe.service.d/e2e-broken.conf'), '[Service]\nExecStart=\nExecStart=/bin/false\n');
  }
  writeFileSync(join(d, 'DEBIAN/control'), `Package: fleetprobe\nVersion: ${version}\nArchitecture: amd64\nMaintainer: e2e <e2e@example.invalid>\nDescription: fleetprobe e2e release ${version}\n e2e\n`);
  // What the real postinst does for an upgrade (dh_installsystemd): reload, restart.
  // slow: a postinst that takes 20 s, the window for the power cut.
  writeFileSync(join(d, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${slow ? 'sleep 20\n' : ''}if [ -d /run/systemd/system ]; then\n  systemctl --system daemon-reload >/dev/null || true\n  deb-systemd-invoke restart fleetprobe.service >/dev/null || true\nfi\n`);
  chmodSync(join(d, 'DEBIAN/postinst'), 0o755);
  const file = join(out, `fleetprobe_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', d, file], { stdio: 'pipe' });
  return file;
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) return log('needs root'), 77;
  if (!existsSync(join(BASE, 'usr/lib/systemd/systemd')) || !existsSync(join(BASE, 'usr/bin/node'))) return log(`no cached root with systemd and node at ${BASE}`), 77;
  const work = mkdtempSync('/var/tmp/fp-update-e2e.');
  const broker = await Mosquitto.start();
  const ca = await createTestCa('fp-e2e-update-ca');
  let server: Awaited<ReturnType<typeof fileServer>> | null = null;
  let boot: ReturnType<typeof spawn> | null = null;
  let root = '';
  try {
    root = sh(`fp_overlay_up '${BASE}' '${work}'`);
    if (!REAL) sh(`fp_install_without_deb '${root}' '${REPO_ROOT}'`);
    const debsDir = join(work, 'debs');
    mkdirSync(debsDir);
    const real = REAL ? await realReleases(debsDir) : null;
    const debs = real?.repoDebs ?? [release(debsDir, '0.1.0', false), release(debsDir, '0.2.0', false), release(debsDir, '0.3.0', true), release(debsDir, '0.5.0', false, true)];
    const repo = buildRepo(work, debs);
    // 0.4.0 is not in the repository: it comes by URL, signed with the pinned key.
    const byUrl = real?.byUrl ?? release(debsDir, '0.4.0', false);
    cpSync(repo.repo, join(root, 'srv/fleetprobe-repo'), { recursive: true });
    // The repository is the only apt source: no traffic to Debian's mirrors.
    rmSync(join(root, 'etc/apt/sources.list'), { force: true });
    rmSync(join(root, 'etc/apt/sources.list.d'), { recursive: true, force: true });
    mkdirSync(join(root, 'etc/apt/sources.list.d'));
    cpSync(repo.keyring, join(root, 'usr/share/keyrings/fleetprobe-archive-keyring.gpg'));
    writeFileSync(join(root, 'etc/apt/sources.list.d/fleetprobe.sources'), 'Types: deb\nURIs: file:/srv/fleetprobe-repo\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/fleetprobe-archive-keyring.gpg\n');
    if (REAL) aptInstall(root, '0.1.0');
    else execFileSync('chroot', [root, 'dpkg', '-i', '/srv/fleetprobe-repo/pool/main/f/fleetprobe/fleetprobe_0.1.0_amd64.deb'], { stdio: 'pipe' });
    mkdirSync(join(root, 'etc/fleetprobe'), { recursive: true });
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(work, 'signing.key')]);
    execFileSync('openssl', ['pkey', '-in', join(work, 'signing.key'), '-pubout', '-out', join(root, 'etc/fleetprobe/update-signing.pub')]);
    // REAL: the package's conffile, edited in place (its owner and mode stay the postinst's).
    writeFileSync(join(root, 'etc/fleetprobe/config.json'), JSON.stringify({
      device: { id: DEVICE }, agent_operations: { probe_interval: 1 },
      probes: [{ name: 'lo4', ip_address: '127.0.0.1', count: 2, interval_ms: 50, timeout_ms: 500 }],
      uplink: { profile: 'mqtt', url: broker.url }, state_interval: 5,
      update: { public_key_file: '/etc/fleetprobe/update-signing.pub' },
    }, null, 2));
    const config = readFileSync(join(root, 'etc/fleetprobe/config.json'), 'utf8');
    if (REAL) {
      const wants = join(root, 'etc/systemd/system/paths.target.wants/fleetprobe-update.path');
      // The link is absolute inside the root: read it, do not follow it on the host.
      check(existsSync(join(root, 'usr/lib/systemd/system/fleetprobe-update.path')) && lstatSync(wants, { throwIfNoEntry: false })?.isSymbolicLink() === true && readlinkSync(wants) === '/usr/lib/systemd/system/fleetprobe-update.path', 'apt install of 0.1.0: postinst enabled fleetprobe-update.path');
      check(lstatSync(join(root, 'etc/systemd/system/multi-user.target.wants/fleetprobe-update.service'), { throwIfNoEntry: false }) === undefined, 'apt install of 0.1.0: fleetprobe-update.service not enabled');
    } else {
      execFileSync('chroot', [root, 'chown', 'root:fleetprobe', '/etc/fleetprobe/config.json']);
      chmodSync(join(root, 'etc/fleetprobe/config.json'), 0o640);
      for (const u of ['fleetprobe-update.path', 'fleetprobe-update.service']) cpSync(join(REPO_ROOT, 'systemd', u), join(root, 'usr/lib/systemd/system', u));
      mkdirSync(join(root, 'etc/systemd/system/paths.target.wants'), { recursive: true });
      symlinkSync('/usr/lib/systemd/system/fleetprobe-update.path', join(root, 'etc/systemd/system/paths.target.wants/fleetprobe-update.path'));
    }
    // 30 s instead of 120 s for the agent of a release to become healthy (a drop-in, as an operator would).
    mkdirSync(join(root, 'etc/systemd/system/fleetprobe-update.service.d'), { recursive: true });
    // The https server's test CA is trusted by node (only in this drop-in).
    cpSync(ca.caCert, join(root, 'etc/fleetprobe/e2e-ca.pem'));
    writeFileSync(join(root, 'etc/systemd/system/fleetprobe-update.service.d/e2e.conf'), '[Service]\nExecStart=\nExecStart=/usr/bin/node /usr/lib/fleetprobe/dist/agent/update/bin.js --health-timeout-s 30\nEnvironment=NODE_EXTRA_CA_CERTS=/etc/fleetprobe/e2e-ca.pem\n');
    server = await fileServer(ca, new Map([['/fleetprobe_0.4.0_amd64.deb', readFileSync(byUrl)]]));
    // Powers the container off when the host asks (touch /e2e/poweroff), and systemd-analyze under 257.
    mkdirSync(join(root, 'e2e'));
    mkdirSync(join(root, 'var/log/journal'), { recursive: true });
    writeFileSync(join(root, 'etc/systemd/system/e2e-poweroff.path'), '[Path]\nPathExists=/e2e/poweroff\n[Install]\nWantedBy=paths.target\n');
    writeFileSync(join(root, 'etc/systemd/system/e2e-poweroff.service'), '[Service]\nType=oneshot\nExecStart=/bin/sh -c "systemctl is-active fleetprobe-update.path > /e2e/path-active.txt 2>&1; systemd-analyze verify fleetprobe-update.path fleetprobe-update.service > /e2e/verify.txt 2>&1; systemd-analyze security --no-pager fleetprobe-update.service > /e2e/security.txt 2>&1; systemctl poweroff"\n');
    symlinkSync('/etc/systemd/system/e2e-poweroff.path', join(root, 'etc/systemd/system/paths.target.wants/e2e-poweroff.path'));
    rmSync(join(root, 'etc/systemd/system/multi-user.target.wants/probe-boot.service'), { force: true });

    const cloud = await ControlCloud.connect(broker.url, DEVICE);
    log(`booting ${root}`);
    const start = (): ReturnType<typeof spawn> => spawn('timeout', ['--kill-after=10', '600', 'script', '-qfec', `systemd-nspawn -D '${root}' --boot --register=no --keep-unit --quiet`, join(work, 'console')], { stdio: 'ignore' });
    boot = start();
    const first = await cloud.waitState((s) => s.agent_version === '0.1.0', 120_000, 'state of agent 0.1.0');
    check(first.agent_version === '0.1.0', 'the agent 0.1.0 runs under systemd and reports');
    const stream0 = (await cloud.sub.waitFor((m) => m.topic === cloud.topics.events, 60_000, 'telemetry')).payload;
    const stream = (JSON.parse(stream0.toString()) as { stream: string }).stream;

    const a1 = await cloud.call({ id: 'e2e-1', command: 'update', args: { version: '0.2.0' } });
    check(a1.status === 'accepted', 'update 0.2.0: accepted', JSON.stringify(a1));
    await cloud.sub.waitFor(() => cloud.replies('e2e-1').length >= 2, 240_000, 'final reply to e2e-1');
    const f1 = cloud.replies('e2e-1')[1]!;
    check(f1.status === 'ok' && (f1.result as { installed_version?: string }).installed_version === '0.2.0', 'update 0.2.0: final reply ok, 0.2.0 installed', JSON.stringify(f1));
    const s1 = await cloud.waitState((s) => s.agent_version === '0.2.0', 30_000, 'state of agent 0.2.0').catch(() => null);
    check(s1 !== null, 'the agent reports 0.2.0');

    const a2 = await cloud.call({ id: 'e2e-2', command: 'update', args: { version: '0.3.0' } });
    check(a2.status === 'accepted', 'update 0.3.0: accepted', JSON.stringify(a2));
    await cloud.sub.waitFor(() => cloud.replies('e2e-2').length >= 2, 300_000, 'final reply to e2e-2');
    const f2 = cloud.replies('e2e-2')[1]!;
    const r2 = f2.result as { installed_version?: string; rolled_back?: boolean };
    check(f2.status === 'error' && r2.rolled_back === true && r2.installed_version === '0.2.0', 'update 0.3.0 (agent never starts): rolled back to 0.2.0', JSON.stringify(f2));
    log(`  reason: ${f2.error}`);
    const since = cloud.states().length;
    const s2 = await cloud.waitState((s) => cloud.states().length > since && s.agent_version === '0.2.0', 60_000, 'state after the rollback').catch(() => null);
    check(s2 !== null, 'the agent 0.2.0 reports again after the rollback');
    const deb = readFileSync(byUrl);
    const signature = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', join(work, 'signing.key'), '-rawin', '-in', byUrl]).toString('base64');
    const a3 = await cloud.call({ id: 'e2e-3', command: 'update', args: { url: server!.url('/fleetprobe_0.4.0_amd64.deb'), sha256: createHash('sha256').update(deb).digest('hex'), signature } });
    check(a3.status === 'accepted', 'update by URL (0.4.0, signed): accepted', JSON.stringify(a3));
    await cloud.sub.waitFor(() => cloud.replies('e2e-3').length >= 2, 240_000, 'final reply to e2e-3');
    const f3 = cloud.replies('e2e-3')[1]!;
    check(f3.status === 'ok' && (f3.result as { installed_version?: string }).installed_version === '0.4.0', 'update by URL: downloaded over https, verified, 0.4.0 installed', JSON.stringify(f3));
    const s3 = await cloud.waitState((s) => s.agent_version === '0.4.0', 30_000, 'state of agent 0.4.0').catch(() => null);
    check(s3 !== null, 'the agent reports 0.4.0');
    const dpkgState = (): string => execFileSync('dpkg-query', [`--root=${root}`, '-W', '-f=${db:Status-Abbrev}${Version}', 'fleetprobe'], { encoding: 'utf8' });
    if (!REAL) {
      // A power cut in the middle of dpkg: 0.5.0's postinst sleeps; the container's init (and
      // with it every process in it) is killed while dpkg says half-configured, then it boots again.
      const a4 = await cloud.call({ id: 'e2e-4', command: 'update', args: { version: '0.5.0' } });
      check(a4.status === 'accepted', 'update 0.5.0: accepted', JSON.stringify(a4));
      const deadline = Date.now() + 120_000;
      while (!/^iF 0\.5\.0$/.test(dpkgState()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const during = dpkgState();
      check(during === 'iF 0.5.0' && existsSync(join(root, 'var/lib/fleetprobe-update/journal.json')), 'dpkg half-configured 0.5.0 and the journal written', during);
      const nspawn = execFileSync('pgrep', ['-f', `^systemd-nspawn -D ${root} `], { encoding: 'utf8' }).trim().split('\n')[0]!;
      for (const pid of execFileSync('pgrep', ['-P', nspawn], { encoding: 'utf8' }).trim().split('\n')) process.kill(Number(pid), 'SIGKILL');
      await new Promise<void>((resolve) => boot!.once('exit', () => resolve()));
      log('power cut during dpkg; booting again');
      boot = start();
      await cloud.sub.waitFor(() => cloud.replies('e2e-4').length >= 2, 300_000, 'final reply to e2e-4 after the power cut');
      const f4 = cloud.replies('e2e-4')[1]!;
      check(f4.status === 'ok' && (f4.result as { installed_version?: string }).installed_version === '0.5.0', 'after the power cut the next boot finished the update: 0.5.0 installed and healthy', JSON.stringify(f4));
      const s4 = await cloud.waitState((s) => s.agent_version === '0.5.0', 60_000, 'state of agent 0.5.0').catch(() => null);
      check(s4 !== null, 'the agent reports 0.5.0');
      check(dpkgState() === 'ii 0.5.0', 'dpkg: 0.5.0 installed', dpkgState());
    } else {
      check(dpkgState() === 'ii 0.4.0', 'dpkg: 0.4.0 installed', dpkgState());
      check(readFileSync(join(root, 'etc/fleetprobe/config.json'), 'utf8') === config, 'the edited conffile /etc/fleetprobe/config.json survived every update and the rollback');
    }
    const last = cloud.sub.on(cloud.topics.events).at(-1)!;
    check((JSON.parse(last.payload.toString()) as { stream: string }).stream === stream, `the outbox survived every update${REAL ? ' and the rollback' : ' and the power cut'} (same stream id)`);
    // At least once: duplicates after a restart are fine, a hole is a lost result.
    const seqs = [...new Set(cloud.sub.on(cloud.topics.events).flatMap((m) => {
      const t = JSON.parse(m.payload.toString()) as { stream: string; results: { seq: number }[] };
      return t.stream === stream ? t.results.map((r) => r.seq) : [];
    }))].sort((x, y) => x - y);
    const holes = seqs.filter((q, i) => i > 0 && q !== seqs[i - 1]! + 1);
    check(seqs[0] === 1 && holes.length === 0, `no result lost: the cloud got seq 1..${seqs.at(-1)} of the stream without a hole`, `first ${seqs[0]}, holes before ${holes.join(',')}`);
    await cloud.close();

    writeFileSync(join(root, 'e2e/poweroff'), '');
    await new Promise<void>((resolve) => boot!.once('exit', () => resolve()));
    boot = null;
    const verify = readFileSync(join(root, 'e2e/verify.txt'), 'utf8');
    check(verify.trim() === '', 'systemd-analyze verify (systemd 257) prints nothing', verify);
    const pathActive = readFileSync(join(root, 'e2e/path-active.txt'), 'utf8').trim();
    check(pathActive === 'active', `fleetprobe-update.path active after every update${REAL ? ' (the real prerm stops it, postinst starts it)' : ''}`, pathActive);
    log(`  ${readFileSync(join(root, 'e2e/security.txt'), 'utf8').trim().split('\n').at(-1)} (systemd 257, booted)`);
  } finally {
    if (boot) {
      // Ask for a clean poweroff first: a killed nspawn can leave the overlay busy.
      if (root) writeFileSync(join(root, 'e2e/poweroff'), '');
      const b = boot;
      const exited = await Promise.race([new Promise<boolean>((r) => b.once('exit', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 90_000))]);
      if (!exited) b.kill('SIGKILL');
    }
    if (root) {
      try {
        const journal = execFileSync('journalctl', ['-D', join(root, 'var/log/journal'), '--no-pager', '-o', 'short', '-u', 'fleetprobe-update.service', '-u', 'fleetprobe.service'], { encoding: 'utf8' });
        log(`journal of the updater and the agent:\n${journal.split('\n').filter((l) => !/ debug: /.test(l)).slice(-150).join('\n')}`);
      } catch (err) {
        log(`(journal not readable here: ${(err as Error).message.split('\n')[0]})`);
      }
    }
    await server?.close();
    await ca.remove();
    await broker.remove();
    if (process.env.FLEETPROBE_TEST_KEEP === '1') log(`kept ${work}`);
    else sh(`fp_overlay_down '${work}'`);
  }
  log(failures === 0 ? 'all checks passed' : `${failures} check(s) FAILED`);
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  log(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
