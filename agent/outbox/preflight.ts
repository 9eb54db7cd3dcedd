import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OutboxUnavailableError } from './errors.js';

// Checks made before SQLite touches anything, so that an unusable state directory fails
// with one clear line and leaves the disk as it was (SQLite would otherwise create a file,
// or silently open read-only and fail at the first write).

function errno(e: unknown): string {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : 'EIO';
}

const uid = (): string => (typeof process.getuid === 'function' ? `uid ${process.getuid()}` : 'this user');

function describeOwner(st: Stats): string {
  return `owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

function statOrNull(path: string, fail: (reason: string) => never): Stats | null {
  try {
    return statSync(path);
  } catch (e) {
    const code = errno(e);
    if (code === 'ENOENT') return null;
    if (code === 'EACCES') fail(`cannot look up ${path}: permission denied for ${uid()}`);
    if (code === 'ENOTDIR') fail(`${dirname(path)} is not a directory`);
    return fail(`cannot stat ${path}: ${code}`);
  }
}

function checkAccess(path: string, mode: number, what: string, st: Stats, fail: (reason: string) => never): void {
  try {
    accessSync(path, mode);
  } catch (e) {
    const code = errno(e);
    if (code === 'EROFS') fail(`${what} ${path} is on a read-only file system`);
    if (code === 'EACCES' || code === 'EPERM') fail(`${what} ${path} is not ${mode & constants.R_OK ? 'readable and writable' : 'writable'} by ${uid()} (${describeOwner(st)})`);
    fail(`${what} ${path} is not usable: ${code}`);
  }
}

/** Throws OutboxUnavailableError unless the outbox at `path` can be created or written. */
export function preflight(path: string): void {
  const fail = (reason: string): never => {
    throw new OutboxUnavailableError(path, reason);
  };
  const dir = dirname(resolve(path));
  const dirStat = statOrNull(dir, fail);
  if (dirStat === null) fail(`state directory ${dir} does not exist`);
  else if (!dirStat.isDirectory()) fail(`state directory ${dir} is not a directory`);
  else checkAccess(dir, constants.W_OK | constants.X_OK, 'state directory', dirStat, fail);
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    const st = statOrNull(file, fail);
    if (st === null) continue;
    if (!st.isFile()) fail(`${file} is not a regular file`);
    checkAccess(file, constants.R_OK | constants.W_OK, 'file', st, fail);
  }
}
