// Test fixtures for the updater: small real .debs named fleetprobe (built with dpkg-deb), a
// signed apt repository made by scripts/build-apt-repo, a throwaway dpkg root that the real
// apt-get and dpkg install into (chrootless: `dpkg --root`, maintainer scripts run with
// $DPKG_ROOT), an Ed25519 signing key, and an https server with a test CA.
//
// The packages stand in for the agent: a "healthy" release's postinst writes the agent's
// status.json (version, updated_at, pid) where the real agent would once it runs; a
// "silent" one never does (an agent that does not come up); a "failing" one's postinst
// exits 1 (dpkg fails). systemd is not PID 1 here, so whether fleetprobe.service is active
// is the one injected step of the health check (ActiveTrue below).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentHealth, type ServiceProbe } from '../../agent/update/health.js';
import { AptInstaller } from '../../agent/update/installer.js';
import type { Clock, UpdaterDeps } from '../../agent/update/updater.js';
import { HttpsDownloader } from '../../agent/update/download.js';
import type { Logger } from '../../agent/core/logger.js';
import type { TestCa } from '../helpers/tls-fixtures.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const ARCH = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();

export type Behaviour = 'healthy' | 'silent' | 'failing';

/** A fleetprobe_<version>_<arch>.deb of a few hundred bytes. */
export function buildDeb(outDir: string, version: string, behaviour: Behaviour = 'healthy', opts: { pkg?: string; arch?: string } = {}): string {
  const work = mkdtempSync(join(tmpdir(), 'fp-deb-'));
  try {
    mkdirSync(join(work, 'DEBIAN'));
    mkdirSync(join(work, 'usr/lib/fleetprobe'), { recursive: true });
    writeFileSync(join(work, 'usr/lib/fleetprobe/VERSION'), `${version}\n`);
    writeFileSync(join(work, 'DEBIAN/control'), `Package: ${opts.pkg ?? 'fleetprobe'}\nVersion: ${version}\nArchitecture: ${opts.arch ?? ARCH}\nMaintainer: test <test@example.invalid>\nDescription: fleetprobe test build (${behaviour})\n test package\n`);
    const post = behaviour === 'failing' ? 'echo "postinst: simulated failure" >&2\nexit 1'
      : behaviour === 'healthy' ? `mkdir -p "$DPKG_ROOT/var/lib/fleetprobe"\nprintf '%s\\n' "{\\"agent_version\\":\\"${version}\\",\\"updated_at\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\\",\\"pid\\":$$}" > "$DPKG_ROOT/var/lib/fleetprobe/status.json"`
        : ': # the agent of this release never comes up';
    writeFileSync(join(work, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\n${post}\n`);
    chmodSync(join(work, 'DEBIAN/postinst'), 0o755);
    const out = join(outDir, `${opts.pkg ?? 'fleetprobe'}_${version}_${opts.arch ?? ARCH}.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', work, out], { stdio: 'pipe' });
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** A signed apt repository of `debs`, made by the packaging script (fleets use the same). */
export function buildRepo(dir: string, debs: string[]): { repo: string; keyring: string } {
  const repo = join(dir, 'repo');
  execFileSync(join(REPO_ROOT, 'scripts/build-apt-repo'), ['--generate-key', '--key', join(dir, 'archive-key.asc'), '--out', repo, ...debs], { stdio: 'pipe' });
  return { repo, keyring: join(repo, 'fleetprobe-archive-keyring.gpg') };
}

/** A dpkg/apt root of its own: the real apt-get and dpkg act on it, never on this machine. */
export class AptRoot {
  readonly aptConfig: string;

  constructor(
    readonly root: string,
    repo: { repo: string; keyring: string },
  ) {
    for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'etc/apt/sources.list.d', 'etc/apt/apt.conf.d', 'etc/apt/preferences.d', 'etc/apt/trusted.gpg.d', 'var/cache/apt/archives/partial', 'var/lib/apt/lists/partial', 'var/log']) {
      mkdirSync(join(root, d), { recursive: true });
    }
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    writeFileSync(join(root, 'etc/apt/sources.list'), `deb [signed-by=${repo.keyring}] file:${repo.repo} stable main\n`);
    this.aptConfig = join(root, 'apt.conf');
    // Everything under the root; dpkg runs maintainer scripts without chroot ($DPKG_ROOT set).
    writeFileSync(this.aptConfig, [
      `Dir "${root}/";`,
      `Dir::State::status "${root}/var/lib/dpkg/status";`,
      `APT::Architecture "${ARCH}";`,
      `DPkg::Options { ${this.dpkgOptions().map((o) => `"${o}";`).join(' ')} };`,
      'APT::Sandbox::User "root";',
      '',
    ].join('\n'));
  }

  dpkgOptions(): string[] {
    return [`--root=${this.root}`, `--log=${this.root}/var/log/dpkg.log`, '--force-script-chrootless', '--force-not-root'];
  }

  installer(): AptInstaller {
    return new AptInstaller({ aptEnv: { APT_CONFIG: this.aptConfig }, dpkgOptions: this.dpkgOptions(), queryOptions: [`--root=${this.root}`] });
  }

  /** dpkg -i outside the updater (the version a device has before the update). */
  dpkgInstall(deb: string): void {
    execFileSync('dpkg', [...this.dpkgOptions(), '-i', deb], { stdio: 'pipe' });
  }

  installedVersion(): string {
    return execFileSync('dpkg-query', [`--root=${this.root}`, '-W', '-f=${Version}', 'fleetprobe'], { encoding: 'utf8' });
  }

  /** The agent's state directory in this root, where the packages' postinst write status.json. */
  get stateDir(): string {
    return join(this.root, 'var/lib/fleetprobe');
  }

  statusVersion(): string | null {
    try {
      return (JSON.parse(readFileSync(join(this.stateDir, 'status.json'), 'utf8')) as { agent_version: string }).agent_version;
    } catch {
      return null;
    }
  }
}

/** Injected: "systemctl says fleetprobe.service is active" (no systemd as PID 1 here). */
export const activeTrue: ServiceProbe & { starts: number } = {
  starts: 0,
  state: async () => ({ active: true, mainPid: null, detail: 'fleetprobe.service active/running (test)' }),
  async start() {
    this.starts++;
  },
};

/** Real time, short waits: the tests do not wait 2 minutes for an agent that never comes. */
export const testClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export function quietLogger(lines: string[] = []): Logger & { lines: string[] } {
  const log = (level: string) => (m: string): void => void lines.push(`${level}: ${m}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Updater deps for a throwaway root; `over` replaces any of them. */
export function updaterDeps(root: AptRoot, agentDir: string, workDir: string, over: Partial<UpdaterDeps> = {}): UpdaterDeps {
  return {
    agentDir,
    agentUid: process.getuid!(),
    workDir,
    publicKeyFile: null,
    downloader: new HttpsDownloader(),
    installer: root.installer(),
    health: new AgentHealth(root.stateDir, process.getuid!(), activeTrue),
    clock: testClock,
    logger: quietLogger(),
    healthTimeoutMs: 4000,
    settleMs: 300,
    pollMs: 100,
    ...over,
  };
}

/** An https server for .debs, with a certificate from the test CA; paths map to bodies or redirects. */
export async function fileServer(ca: TestCa, routes: Map<string, Buffer | { redirect: string } | { length: number }>): Promise<{ url: (p: string) => string; close: () => Promise<void> }> {
  const server: Server = createServer({ cert: readFileSync(ca.server.cert), key: readFileSync(ca.server.key) }, (req, res) => {
    const r = routes.get(req.url ?? '');
    if (r === undefined) return void res.writeHead(404).end();
    if (Buffer.isBuffer(r)) return void res.writeHead(200, { 'content-length': r.length }).end(r);
    if ('redirect' in r) return void res.writeHead(302, { location: r.redirect }).end();
    // A body larger than any cap, without a content-length: only counting catches it.
    res.writeHead(200);
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = (): void => {
      while (sent < r.length) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (p) => `https://127.0.0.1:${port}${p}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
