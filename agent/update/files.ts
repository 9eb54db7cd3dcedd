import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readSync, renameSync, unlinkSync, writeSync, type Stats } from 'node:fs';

// Files in a directory someone else controls (the root updater in the agent's state
// directory). The directory is opened once and every later operation goes through
// /proc/self/fd/<fd>/<name>: the kernel resolves that to the directory that was opened, so
// renaming it or swapping a symlink in its place afterwards changes nothing. Final
// components are never followed (O_NOFOLLOW), FIFOs and devices are refused, and reads are
// bounded.

/** A file or directory that is not what it must be: a one-line reason, nothing was done. */
export class UnsafeFileError extends Error {
  override readonly name = 'UnsafeFileError';
}

export interface DirRules {
  /** The directory must belong to this uid (when given). */
  ownerUid?: number;
  /** Refuse a directory that users other than its owner may write to. */
  privateToOwner?: boolean;
}

export interface ReadRules {
  maxBytes: number;
  /** The file must belong to this uid (when given). */
  ownerUid?: number;
}

export class PinnedDir {
  private constructor(
    private readonly fd: number,
    readonly path: string,
    readonly stats: Stats,
  ) {}

  /** Opens `path` (not a symlink, a directory that passes `rules`). Throws UnsafeFileError or the fs error. */
  static open(path: string, rules: DirRules = {}): PinnedDir {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // O_DIRECTORY | O_NOFOLLOW on a symlink says ENOTDIR or ELOOP, depending on the target.
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new UnsafeFileError(`${path} is ${isLink(path) ? 'a symbolic link' : 'not a directory'}`);
      throw err;
    }
    const st = fstatSync(fd);
    const problem = rules.ownerUid !== undefined && st.uid !== rules.ownerUid
      ? `belongs to uid ${st.uid}, expected ${rules.ownerUid}`
      : rules.privateToOwner && (st.mode & 0o022) !== 0 ? `is writable by others (mode ${(st.mode & 0o7777).toString(8)})` : null;
    if (problem) {
      closeSync(fd);
      throw new UnsafeFileError(`${path} ${problem}`);
    }
    return new PinnedDir(fd, path, st);
  }

  /** A path the kernel resolves inside the opened directory, whatever happened to `path` since. */
  at(name: string): string {
    if (name === '' || name.includes('/') || name === '.' || name === '..') throw new Error(`not a plain file name: ${name}`);
    return `/proc/self/fd/${this.fd}/${name}`;
  }

  /** The names in the directory. */
  list(): string[] {
    return readdirSync(`/proc/self/fd/${this.fd}`);
  }

  /** The content of a regular file; null when there is none. */
  read(name: string, rules: ReadRules): Buffer | null {
    let fd: number;
    try {
      fd = openSync(this.at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') throw new UnsafeFileError(`${name} is a symbolic link`);
      throw err;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new UnsafeFileError(`${name} is not a regular file`);
      if (rules.ownerUid !== undefined && st.uid !== rules.ownerUid) throw new UnsafeFileError(`${name} belongs to uid ${st.uid}, expected ${rules.ownerUid}`);
      if (st.nlink !== 1) throw new UnsafeFileError(`${name} has ${st.nlink} hard links`);
      if (st.size > rules.maxBytes) throw new UnsafeFileError(`${name} has ${st.size} bytes, more than ${rules.maxBytes}`);
      // Read one byte more than allowed: a file that grows meanwhile is caught too.
      const buf = Buffer.alloc(rules.maxBytes + 1);
      let n = 0;
      for (;;) {
        const got = readSync(fd, buf, n, buf.length - n, null);
        if (got === 0) break;
        n += got;
        if (n > rules.maxBytes) throw new UnsafeFileError(`${name} has more than ${rules.maxBytes} bytes`);
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** Replaces `name` whole: temp file (new, never followed), fsync, rename, fsync of the directory. */
  writeAtomic(name: string, data: string | Buffer, opts: { mode: number; uid?: number; gid?: number }): void {
    const tmp = `.${name}.${randomBytes(6).toString('hex')}.tmp`;
    const fd = openSync(this.at(tmp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, opts.mode);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      if (opts.uid !== undefined || opts.gid !== undefined) fchownSync(fd, opts.uid ?? -1, opts.gid ?? -1);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      unlinkSync(this.at(tmp));
      throw err;
    }
    closeSync(fd);
    renameSync(this.at(tmp), this.at(name));
    fsyncSync(this.fd);
  }

  /** Moves `name` (whatever it is) to `to` in the same directory; false when it was not there. */
  rename(name: string, to: string): boolean {
    try {
      renameSync(this.at(name), this.at(to));
      fsyncSync(this.fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Removes a file (a symlink itself, never its target); false when it was not there. */
  unlink(name: string): boolean {
    try {
      unlinkSync(this.at(name));
      fsyncSync(this.fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
