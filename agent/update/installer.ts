import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_NAME } from './protocol.js';
import { UpdateError } from './verify.js';

/** What dpkg says a .deb is. */
export interface DebInfo {
  package: string;
  version: string;
  architecture: string;
}

/** The package manager, as the updater uses it. Every method throws UpdateError with a one-line reason. */
export interface Installer {
  architecture(): Promise<string>;
  /** The installed (configured) version of fleetprobe, or null. */
  installedVersion(): Promise<string | null>;
  /** `version` from the configured apt source into `dir`, verified by apt (signed Release, hashes); null when the source has no such version. */
  fetch(version: string, dir: string): Promise<string | null>;
  debInfo(path: string): Promise<DebInfo>;
  /** Installs a verified .deb, with its dependencies from the apt sources; conffiles edited by the admin are kept. */
  install(path: string): Promise<void>;
  /** Reinstalls a cached .deb with dpkg alone (no network, no resolver): the rollback. */
  reinstall(path: string): Promise<void>;
  /** Finishes what an interrupted dpkg left (a power cut during an update). */
  repair(): Promise<void>;
}

export interface RunOutput {
  code: number;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }) => Promise<RunOutput>;

const KEEP = 8192;

/** Spawns without a shell; keeps the last 8 KiB of each stream; kills after the timeout. */
export const spawnRunner: CommandRunner = (cmd, args, opts) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? '/', env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-KEEP)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-KEEP)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new UpdateError(`${cmd}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });

export interface AptInstallerOptions {
  run?: CommandRunner;
  /** Extra environment for apt-get and apt-cache (tests: APT_CONFIG for a throwaway root). */
  aptEnv?: NodeJS.ProcessEnv;
  /** Extra dpkg options (tests: --root=<dir> and what running maintainer scripts outside a chroot needs). */
  dpkgOptions?: string[];
  /** Extra dpkg-query options (tests: --root=<dir>). */
  queryOptions?: string[];
}

/** The last line that says what went wrong (apt's "E: ..." lines first). */
function reason(out: RunOutput): string {
  const lines = `${out.stderr}\n${out.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.filter((l) => /^(E:|dpkg: error|dpkg-deb: error)/.test(l)).at(-1) ?? lines.at(-1) ?? `exit status ${out.code}`;
  return line.replace(/[^\x20-\x7e]/g, '?').slice(0, 300);
}

/** apt-get and dpkg, non-interactive, keeping the admin's conffiles (--force-confold). */
export class AptInstaller implements Installer {
  private readonly run: CommandRunner;
  private updated = false;

  constructor(private readonly opts: AptInstallerOptions = {}) {
    this.run = opts.run ?? spawnRunner;
  }

  private env(): NodeJS.ProcessEnv {
    return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', ...this.opts.aptEnv };
  }

  private async must(what: string, cmd: string, args: string[], timeoutMs: number, cwd?: string): Promise<RunOutput> {
    const out = await this.run(cmd, args, { env: this.env(), timeoutMs, cwd });
    if (out.code !== 0) throw new UpdateError(`${what} failed: ${reason(out)}`);
    return out;
  }

  async architecture(): Promise<string> {
    return (await this.must('dpkg --print-architecture', 'dpkg', ['--print-architecture'], 30_000)).stdout.trim();
  }

  async installedVersion(): Promise<string | null> {
    const out = await this.run('dpkg-query', [...(this.opts.queryOptions ?? []), '-W', '-f=${db:Status-Abbrev}|${Version}', PACKAGE_NAME], { env: this.env(), timeoutMs: 30_000 });
    if (out.code !== 0) return null;
    const [status, version] = out.stdout.split('|');
    return status?.startsWith('ii') && version ? version.trim() : null;
  }

  async fetch(version: string, dir: string): Promise<string | null> {
    if (!this.updated) {
      await this.must('apt-get update', 'apt-get', ['-q', 'update'], 300_000);
      this.updated = true;
    }
    // `apt-cache show pkg=v` exits 0 for a version it does not know; madison lists what the sources have.
    const known = await this.run('apt-cache', ['madison', PACKAGE_NAME], { env: this.env(), timeoutMs: 60_000 });
    const versions = known.stdout.split('\n').map((l) => l.split('|')[1]?.trim());
    if (!versions.includes(version)) return null;
    await this.must(`apt-get download ${PACKAGE_NAME}=${version}`, 'apt-get', ['-q', 'download', `${PACKAGE_NAME}=${version}`], 600_000, dir);
    const file = readdirSync(dir).find((f) => f.startsWith(`${PACKAGE_NAME}_${version}_`) && f.endsWith('.deb'));
    if (!file) throw new UpdateError(`apt-get download ${PACKAGE_NAME}=${version} left no .deb in ${dir}`);
    return join(dir, file);
  }

  async debInfo(path: string): Promise<DebInfo> {
    const out = await this.run('dpkg-deb', ['--field', path, 'Package', 'Version', 'Architecture'], { env: this.env(), timeoutMs: 60_000 });
    if (out.code !== 0) throw new UpdateError('not a Debian package (dpkg-deb cannot read it)');
    const field = (name: string): string => new RegExp(`^${name}: (.+)$`, 'm').exec(out.stdout)?.[1]?.trim() ?? '';
    return { package: field('Package'), version: field('Version'), architecture: field('Architecture') };
  }

  async install(path: string): Promise<void> {
    await this.must('apt-get install', 'apt-get', ['-q', '-y', '--allow-downgrades', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', 'install', path], 900_000);
  }

  async reinstall(path: string): Promise<void> {
    await this.must('dpkg -i', 'dpkg', [...(this.opts.dpkgOptions ?? []), '--force-confdef', '--force-confold', '-i', path], 900_000);
  }

  async repair(): Promise<void> {
    await this.must('dpkg --configure -a', 'dpkg', [...(this.opts.dpkgOptions ?? []), '--force-confdef', '--force-confold', '--configure', '-a'], 900_000);
  }
}
