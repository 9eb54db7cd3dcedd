import { closeSync, existsSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Corrupt copies kept next to the outbox; older ones are deleted so a failing card cannot fill the disk with them. */
export const CORRUPT_COPIES_KEPT = 2;

export interface Quarantined {
  /** Where the database file went (its -wal/-shm went to the same name plus suffix). */
  aside: string;
  /** Older corrupt copies deleted to keep at most CORRUPT_COPIES_KEPT. */
  deleted: string[];
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves a corrupt database and its -wal/-shm aside as `<path>.corrupt-<time>[-wal|-shm]`
 * (the connection must be closed). The WAL goes first: a stale WAL left next to a new
 * database could be replayed into it, a database without its WAL is merely incomplete.
 */
export function quarantine(path: string, now: Date): Quarantined {
  let aside = `${path}.corrupt-${stamp(now)}`;
  for (let n = 2; existsSync(aside) || existsSync(`${aside}-wal`); n++) aside = `${path}.corrupt-${stamp(now)}-${n}`;
  for (const suffix of ['-wal', '-shm', '']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  const deleted = pruneCopies(path, aside);
  syncDir(dirname(path));
  return { aside, deleted };
}

function pruneCopies(path: string, keep: string): string[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.corrupt-`;
  const groups = new Map<string, string[]>();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const base = name.replace(/-(wal|shm)$/, '');
    groups.set(base, [...(groups.get(base) ?? []), name]);
  }
  // Names sort by time (the stamp is fixed-width UTC; a -N suffix sorts after its stamp).
  const old = [...groups.keys()].sort().reverse().slice(CORRUPT_COPIES_KEPT).filter((b) => join(dir, b) !== keep);
  const deleted: string[] = [];
  for (const b of old) {
    for (const name of groups.get(b) ?? []) {
      unlinkSync(join(dir, name));
      deleted.push(join(dir, name));
    }
  }
  return deleted;
}
