// Runs test/outbox/crash-writer.js (appending rounds in a loop) and kills it with SIGKILL.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const writer = join(dirname(fileURLToPath(import.meta.url)), '..', 'outbox', 'crash-writer.js');

export interface CrashRun {
  /** Last seq of every round the child reported committed (append had returned). */
  seqs: number[];
  /** The stream the child opened, if it got that far. */
  stream: string | undefined;
  stderr: string;
}

/** Starts the writer on `path`, SIGKILLs it after `killAfterMs` (or once it reported `minRounds`). */
export function runAndKill(path: string, killAfterMs: number, opts: { maxMb?: number; minRounds?: number; synchronous?: 'full' | 'normal' } = {}): Promise<CrashRun> {
  return new Promise((resolve, reject) => {
    const args = [writer, path, String(opts.maxMb ?? 64), opts.synchronous ?? 'full'];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = (): void => void proc.kill('SIGKILL');
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (opts.minRounds !== undefined && timer === undefined && out.split('\n').length - 2 >= opts.minRounds) timer = setTimeout(kill, killAfterMs);
    });
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.minRounds === undefined) timer = setTimeout(kill, killAfterMs);
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`crash-writer ended by itself (${code ?? signal}): ${stderr}`));
      // Only complete lines count: a line is written with one write() after append returned.
      const lines = out.split('\n').slice(0, -1);
      const open = lines.find((l) => l.startsWith('open '));
      resolve({ seqs: lines.filter((l) => /^\d+$/.test(l)).map(Number), stream: open?.slice(5), stderr });
    });
  });
}
