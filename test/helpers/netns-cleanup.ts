// Teardown of test namespaces: normal destroy, stale leftovers from crashed
// runs, and a synchronous last-chance cleanup at process exit.
import { spawnSync } from 'node:child_process';
import { V4_RANGE, V6_RANGE } from './address-plan.js';
import { run } from './run.js';

export const NS_PREFIX = 'fptest-';
const NS_PATTERN = /^fptest-(\d+)-(\d+)$/;
const ROOT_LINK_PATTERN = /^fptest\d{2}$/;
/** Name of the far end of the veth pair inside every test namespace. */
export const FAR_LINK = 'veth0';

// Catch-all routes so that a probe aimed at a torn-down (or never created) test
// address fails locally instead of following the default route onto the LAN.
export const GUARD_ROUTES_V4 = [`route replace unreachable ${V4_RANGE}`];
export const GUARD_ROUTES_V6 = [`route replace unreachable ${V6_RANGE}`];
const GUARD_DELETE = [`route del unreachable ${V4_RANGE}`, `route del unreachable ${V6_RANGE}`];

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True for `fptest-<pid>-<n>` names whose creating process is gone. */
export function isStaleNsName(name: string): boolean {
  const m = NS_PATTERN.exec(name);
  return m !== null && !pidAlive(Number(m[1]));
}

interface NetnsEntry {
  name: string;
  id: number | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function parseJsonArray(text: string): Record<string, unknown>[] {
  if (text.trim() === '') return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? parsed.filter(isRecord) : [];
}

export async function listNetns(): Promise<NetnsEntry[]> {
  const { stdout } = await run('ip', ['-j', 'netns', 'list']);
  return parseJsonArray(stdout).flatMap((e) =>
    typeof e.name === 'string' ? [{ name: e.name, id: typeof e.id === 'number' ? e.id : undefined }] : [],
  );
}

export async function listTestNetns(): Promise<string[]> {
  return (await listNetns()).map((e) => e.name).filter((n) => n.startsWith(NS_PREFIX));
}

async function killNsProcesses(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns], { allowFail: true });
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Deleting the veth explicitly (instead of relying on namespace teardown) is
 * synchronous: the kernel frees namespaces from a workqueue, so the veth, its
 * routes and thus the slot would otherwise linger for a moment after `netns del`.
 */
export async function removeNamespace(ns: string, rootLink: string | null): Promise<void> {
  await killNsProcesses(ns);
  if (rootLink !== null) await run('ip', ['link', 'del', rootLink], { allowFail: true });
  await run('ip', ['-n', ns, 'link', 'del', FAR_LINK], { allowFail: true });
  await run('ip', ['netns', 'del', ns], { allowFail: true });
}

/** Removes the guard routes once no test namespace is left on the machine. */
export async function removeGuardIfUnused(): Promise<void> {
  if ((await listTestNetns()).length > 0) return;
  await run('ip', ['-force', '-batch', '-'], { input: `${GUARD_DELETE.join('\n')}\n`, allowFail: true });
}

/**
 * Removes namespaces and root-side veths left behind by test processes that no
 * longer exist. Namespaces of live processes (e.g. test files running in
 * parallel) are left alone, so this is safe at the top of any test file.
 */
export async function cleanupStale(): Promise<string[]> {
  const removed: string[] = [];
  const namespaces = await listNetns();
  for (const { name } of namespaces) {
    if (isStaleNsName(name)) {
      await removeNamespace(name, null);
      removed.push(name);
    }
  }
  // A veth survives its namespace's deletion while an orphaned process pins the
  // namespace; it is ours if it points at an unnamed or dead namespace. Links are
  // listed before namespaces: a concurrent creator names its namespace before it
  // adds the veth, so every listed link's namespace is in the later list.
  const { stdout } = await run('ip', ['-j', 'link', 'show']);
  const liveIds = new Map<number, string>();
  for (const e of await listNetns()) if (e.id !== undefined) liveIds.set(e.id, e.name);
  for (const link of parseJsonArray(stdout)) {
    const name = link.ifname;
    if (typeof name !== 'string' || !ROOT_LINK_PATTERN.test(name)) continue;
    const peerId = typeof link.link_netnsid === 'number' ? link.link_netnsid : undefined;
    const owner = peerId === undefined ? undefined : liveIds.get(peerId);
    if (owner === undefined || isStaleNsName(owner) || !NS_PATTERN.test(owner)) {
      await run('ip', ['link', 'del', name], { allowFail: true });
      removed.push(name);
    }
  }
  await removeGuardIfUnused();
  return removed;
}

/** Best-effort synchronous teardown for the process 'exit' event, where async work cannot run. */
export function removeNamespaceSync(ns: string, rootLink: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  spawnSync('ip', ['link', 'del', rootLink], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  const left = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  if (!left.split('\n').some((l) => l.startsWith(NS_PREFIX))) {
    spawnSync('ip', ['-force', '-batch', '-'], { input: `${GUARD_DELETE.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
  }
}
