// fping as the reference at scale, under GNU time so that its total CPU and peak RSS are
// exact (time's rusage), while the benchmark samples it during the run by its pid.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertTestRange } from '../test/helpers/address-plan.js';
import { parseFpingOutput, type FpingTargetResult } from '../test/helpers/ping-parse.js';

export interface FpingOptions {
  count: number;
  periodMs: number;
  /** fping -i: the least time between any two requests, ms (fractions allowed). */
  intervalMs: number;
  timeoutMs: number;
  size: number;
}

export interface FpingRun {
  args: string[];
  exitCode: number;
  targets: Map<string, FpingTargetResult>;
  /** From GNU time: CPU seconds over fping's whole life, and its peak RSS. */
  userS: number;
  sysS: number;
  maxRssKb: number;
  elapsedS: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** time forks fping right away; its pid is the one child listed by the kernel. */
async function childOf(pid: number): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
      if (kids) return Number(kids.split(' ')[0]);
    } catch {
      // time has not started yet, or already exited
    }
    await sleep(1);
  }
  throw new Error(`no child of /usr/bin/time (pid ${pid}) appeared`);
}

export async function runFping(targets: readonly string[], opts: FpingOptions, onPid: (pid: number) => void): Promise<FpingRun> {
  targets.forEach((t) => assertTestRange(t));
  const dir = mkdtempSync(join(tmpdir(), 'fp-scale-fping-'));
  const timeFile = join(dir, 'time');
  const args = [
    '-q', '-C', String(opts.count), '-p', String(opts.periodMs), '-i', String(opts.intervalMs),
    '-t', String(opts.timeoutMs), '-b', String(opts.size), '-f', '-',
  ];
  try {
    const proc = spawn('/usr/bin/time', ['-f', '%U %S %M %e', '-o', timeFile, 'fping', ...args], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    const err: Buffer[] = [];
    proc.stderr!.on('data', (b: Buffer) => err.push(b));
    const exited = new Promise<number>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('close', (code) => resolve(code ?? -1));
    });
    proc.stdin!.on('error', () => undefined);
    proc.stdin!.end(`${targets.join('\n')}\n`);
    onPid(await childOf(proc.pid!));
    const exitCode = await exited;
    const stderr = Buffer.concat(err).toString('utf8');
    // 0: all alive, 1: some unreachable; 2..4 are real errors (bad host, bad args, syscall).
    if (exitCode !== 0 && exitCode !== 1) throw new Error(`fping ${args.join(' ')} exited ${exitCode}: ${stderr.slice(0, 500)}`);
    const [user, sys, rss, elapsed] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { args, exitCode, targets: parseFpingOutput(stderr), userS: user!, sysS: sys!, maxRssKb: rss!, elapsedS: elapsed! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
