// The real agent (`fleetprobe run`) as a child process, for end-to-end tests: a config file
// in a temp dir, its log lines collected, killed or stopped like systemd would.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FLEETPROBE_BIN = fileURLToPath(new URL('../../agent/bin/fleetprobe.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class AgentProcess {
  private log = '';
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<Exit>;

  private constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString();
      for (const w of this.waiters) w();
    });
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Writes `config` as dir/config.json and runs `fleetprobe run --config` on it. */
  static start(dir: string, config: unknown, env: NodeJS.ProcessEnv = {}): AgentProcess {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [FLEETPROBE_BIN, 'run', '--config', file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, ...env },
    });
    return new AgentProcess(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.log;
  }

  lines(): string[] {
    return this.log.split('\n').filter((l) => l.length > 0);
  }

  /** Seqs the agent logged as committed (log_level debug): each line follows a commit. */
  committedSeqs(): number[] {
    const seqs: number[] = [];
    for (const m of this.log.matchAll(/committed .*: seq (\d+)(?:-(\d+))?/g)) {
      const a = Number(m[1]);
      const b = m[2] === undefined ? a : Number(m[2]);
      for (let s = a; s <= b; s++) seqs.push(s);
    }
    return seqs;
  }

  async waitForLog(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.log);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`agent exited before logging ${re}:\n${this.log}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re} in the agent's log:\n${this.log}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 200));
        function done(): void {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      }).finally(() => this.waiters.clear());
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGTERM, as `systemctl stop` sends, and the exit status; SIGKILL and throw if it hangs. */
  async stop(timeoutMs = 30_000): Promise<Exit> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
    const exit = await Promise.race([this.exited, hung]);
    clearTimeout(timer);
    if (exit === null) {
      this.child.kill('SIGKILL');
      throw new Error(`agent did not stop within ${timeoutMs} ms of SIGTERM:\n${this.log}`);
    }
    return exit;
  }
}
