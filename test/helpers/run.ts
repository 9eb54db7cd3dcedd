// Child-process helpers for the test harness. Everything the harness does to the
// network goes through here so failures always carry the command and its stderr.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Resolve instead of rejecting when the exit code is not 0. */
  allowFail?: boolean;
  /** Written to stdin, then stdin is closed (used for `ip -batch -`, `nft -f -`, `fping -f -`). */
  input?: string;
  /** Run inside this network namespace (via `ip netns exec`). */
  ns?: string | null;
  /** Kill the process (SIGKILL) and reject after this long. Default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Locale-independent output: the parsers in ping-ref.ts rely on the C locale. */
const C_LOCALE_ENV: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' };

export function nsArgv(ns: string | null | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (ns === null || ns === undefined) return [cmd, [...args]];
  return ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

/** Spawns `cmd` inside namespace `ns` (or the root namespace when null). */
export function spawnIn(
  ns: string | null,
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): ChildProcess {
  const [file, argv] = nsArgv(ns, cmd, args);
  return spawn(file, argv, { env: C_LOCALE_ENV, ...opts });
}

function describe(cmd: string, args: readonly string[]): string {
  const text = [cmd, ...args].join(' ');
  // Batch inputs can be huge; keep error messages readable.
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, argv] = nsArgv(opts.ns, cmd, args);
  const where = opts.ns ? ` (in netns ${opts.ns})` : '';
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, {
      env: opts.env ?? C_LOCALE_ENV,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${describe(cmd, args)}${where}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = {
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (timedOut) {
        reject(new Error(`${describe(cmd, args)}${where} timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`));
      } else if (result.code !== 0 && !opts.allowFail) {
        const why = signal ? `signal ${signal}` : `exit code ${result.code}`;
        reject(new Error(`${describe(cmd, args)}${where} failed with ${why}: ${result.stderr.trim() || result.stdout.trim()}`));
      } else {
        resolve(result);
      }
    });
    if (opts.input !== undefined && child.stdin) {
      // EPIPE when the program exits without reading everything is reported via 'close'.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}
