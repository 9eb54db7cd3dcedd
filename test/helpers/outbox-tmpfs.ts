// A small tmpfs for tests that need a real full (or read-only) file system. Needs root
// (CAP_SYS_ADMIN); returns undefined where mounting is not possible.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class Tmpfs {
  private constructor(readonly dir: string) {}

  static mount(size: string): Tmpfs | undefined {
    const dir = mkdtempSync(join(tmpdir(), 'fp-tmpfs-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
    if (r.status !== 0) {
      rmdirSync(dir);
      return undefined;
    }
    return new Tmpfs(dir);
  }

  remount(options: string): void {
    const r = spawnSync('mount', ['-o', `remount,${options}`, this.dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`remount ${options} ${this.dir}: ${r.stderr.trim()}`);
  }

  /** Writes a file until the file system says ENOSPC; returns the bytes written. */
  fill(name = 'filler'): number {
    const fd = openSync(join(this.dir, name), 'w');
    const block = Buffer.alloc(4096, 0x5a);
    let n = 0;
    try {
      for (;;) n += writeSync(fd, block);
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'ENOSPC')) throw e;
    } finally {
      closeSync(fd);
    }
    return n;
  }

  unmount(): void {
    const r = spawnSync('umount', [this.dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`umount ${this.dir}: ${r.stderr.trim()}`);
    rmdirSync(this.dir);
  }
}
