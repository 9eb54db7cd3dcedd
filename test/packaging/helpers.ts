// Shared by the packaging tests: building the packages once per source state, and running
// commands in throwaway copies of Debian trixie roots (chroot, no booting).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository (this file runs from dist/test/packaging/). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const ARCHS = ['amd64', 'arm64', 'armhf'] as const;
export type Arch = (typeof ARCHS)[number];

export const ROOT_CACHE = '/var/cache/fleetprobe-test';
const MIRROR = 'http://deb.debian.org/debian';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Resolve with the result instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** Runs a program asynchronously (tests serve HTTP from this process meanwhile). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', reject);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      const result = { code, stdout, stderr };
      if (code === 0 || opts.allowFail) resolve(result);
      else reject(new Error(`${cmd} ${args.join(' ').slice(0, 200)} exited ${code}:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
    });
  });
}

function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  if (!existsSync(path)) return;
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      if (entry === 'build' && path.endsWith('native')) continue; // local addon builds
      hashTree(hash, join(path, entry));
    }
  } else if (!path.endsWith('.md')) {
    hash.update(relative(REPO, path)).update('\0').update(readFileSync(path)).update('\0');
  }
}

/** Everything scripts/build-deb reads (not the READMEs): the same hash means the same packages. */
function sourceHash(): string {
  const hash = createHash('sha256');
  for (const p of ['agent', 'scripts/build-deb', 'scripts/deb', 'packaging', 'systemd', 'package.json', 'package-lock.json', 'tsconfig.json']) {
    hashTree(hash, join(REPO, p));
  }
  return hash.digest('hex').slice(0, 16);
}

/** scripts/deb/units: the units a package built from <dir> ships, and which it enables. */
export async function unitList(dir: string): Promise<{ how: string; unit: string }[]> {
  const { stdout } = await run(join(REPO, 'scripts/deb/units'), [dir]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [how, unit] = line.split(' ');
      return { how: how!, unit: unit! };
    });
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A version that sorts after the checkout's, for upgrade tests. */
export function upgradeVersion(): string {
  return `${packageVersion()}+test1`;
}

/**
 * The .debs of the working tree for these architectures (and version), built by
 * scripts/build-deb unless an earlier test of this run (or an earlier run on the same
 * sources) already did: dist/test-cache/deb/<source hash>-<version>/.
 */
export async function builtDebs(archs: readonly Arch[], version = packageVersion()): Promise<Record<Arch, string>> {
  const dir = join(REPO, 'dist/test-cache/deb', `${sourceHash()}-${version}`);
  const path = (arch: Arch): string => join(dir, `fleetprobe_${version}_${arch}.deb`);
  const missing = archs.filter((a) => !existsSync(path(a)));
  if (missing.length > 0) {
    const tmp = mkdtempSync(join(tmpdir(), 'fleetprobe-debs-'));
    try {
      const started = Date.now();
      await run(join(REPO, 'scripts/build-deb'), ['--arch', missing.join(','), '--out', tmp, '--version', version]);
      process.stderr.write(`# built ${missing.join(',')} ${version} in ${Math.round((Date.now() - started) / 1000)} s\n`);
      mkdirSync(dir, { recursive: true });
      for (const a of missing) renameSync(join(tmp, `fleetprobe_${version}_${a}.deb`), path(a));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return Object.fromEntries(archs.map((a) => [a, path(a)])) as Record<Arch, string>;
}

/** The cached trixie root of an architecture: amd64 is the one the CI machine image has. */
export function cachedRootPath(arch: Arch): string {
  if (arch === 'amd64') return process.env.FLEETPROBE_TRIXIE_AMD64_ROOT ?? join(ROOT_CACHE, 'trixie-amd64.tmp');
  return join(ROOT_CACHE, `trixie-${arch}`);
}

const ROOT_PACKAGES: Record<Arch, string> = {
  // As the CI image's root is made (the booted-systemd tests use systemd from it).
  amd64: 'systemd,systemd-sysv,dbus,nodejs,ca-certificates,adduser',
  arm64: 'nodejs,adduser',
  armhf: 'nodejs,adduser',
};

/**
 * The CPUs of a Pi 4 and a Pi 2. For arm64 it is also about speed: qemu's default CPU
 * emulates the pointer authentication of trixie's binaries slowly, and cortex-a72 has none.
 */
export function emulationEnv(arch: Arch): NodeJS.ProcessEnv {
  return arch === 'arm64' ? { QEMU_CPU: 'cortex-a72' } : arch === 'armhf' ? { QEMU_CPU: 'cortex-a7' } : {};
}

/** Makes the cached root with debootstrap when it is missing (a clean machine). */
export async function ensureCachedRoot(arch: Arch): Promise<string> {
  const root = cachedRootPath(arch);
  if (existsSync(join(root, 'usr/bin/node')) && existsSync(join(root, 'usr/bin/apt-get'))) return root;
  const partial = `${root}.partial-${process.pid}`;
  mkdirSync(ROOT_CACHE, { recursive: true });
  const started = Date.now();
  try {
    const env = { ...process.env, ...emulationEnv(arch) };
    await run('debootstrap', [`--arch=${arch}`, '--variant=minbase', `--include=${ROOT_PACKAGES[arch]}`, 'trixie', partial, MIRROR], { env });
    rmSync(root, { recursive: true, force: true });
    renameSync(partial, root);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  process.stderr.write(`# made ${root} in ${Math.round((Date.now() - started) / 1000)} s\n`);
  return root;
}

/** A throwaway copy of a cached root; the cache itself is never changed. */
export async function copyRoot(arch: Arch): Promise<string> {
  const src = await ensureCachedRoot(arch);
  const dst = mkdtempSync(join(tmpdir(), `fleetprobe-root-${arch}-`));
  await run('cp', ['-a', `${src}/.`, dst]);
  return dst;
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/**
 * Runs a shell script as root inside the root by chroot, in private mount and pid namespaces:
 * /proc and /dev/pts exist for it, and nothing it starts or mounts outlives it.
 */
export function inRoot(root: string, script: string, opts: RunOptions = {}): Promise<RunResult> {
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/root',
    DEBIAN_FRONTEND: 'noninteractive',
    ...opts.env,
  };
  const enter = 'mount -t devpts -o newinstance,ptmxmode=0666 devpts "$1/dev/pts" && exec chroot "$1" /bin/sh -ec "$2"';
  return run('unshare', ['--mount', '--pid', '--fork', `--mount-proc=${root}/proc`, 'sh', '-c', enter, 'sh', root, script], { ...opts, env });
}

/** binfmt_misc for foreign roots: not mounted by default on these machines. */
export async function enableEmulation(arch: Exclude<Arch, 'amd64'>): Promise<void> {
  if (!existsSync('/proc/sys/fs/binfmt_misc/register')) await run('mount', ['-t', 'binfmt_misc', 'binfmt_misc', '/proc/sys/fs/binfmt_misc']);
  await run('update-binfmts', ['--enable', arch === 'arm64' ? 'qemu-aarch64' : 'qemu-arm']);
}
