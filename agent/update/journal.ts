import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

// What the updater is in the middle of, in root's own directory: after a power cut during
// dpkg, the next run (the request is still there, PathExists starts the updater at boot)
// finishes dpkg and judges or rolls back the install instead of starting afresh.

export const journalSchema = z.strictObject({
  id: z.string(),
  phase: z.enum(['installing', 'rolling-back']),
  architecture: z.string(),
  previous_version: z.string(),
  previous_deb: z.string(),
  attempted_version: z.string(),
  candidate_deb: z.string(),
  started_at: z.string(),
  reason: z.string().optional(),
});
export type JournalEntry = z.infer<typeof journalSchema>;

export class Journal {
  private readonly path: string;

  constructor(workDir: string) {
    this.path = join(workDir, 'journal.json');
  }

  read(): JournalEntry | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      return journalSchema.parse(JSON.parse(text));
    } catch {
      // Only root writes it, atomically: a broken one is set aside rather than trusted.
      renameSync(this.path, `${this.path}.corrupt-${Date.now()}`);
      return null;
    }
  }

  write(entry: JournalEntry): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    syncDir(join(this.path, '..'));
  }

  clear(): void {
    rmSync(this.path, { force: true });
    syncDir(join(this.path, '..'));
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
