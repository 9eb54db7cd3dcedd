// Starts and stops responder.js inside a TestNet's far namespace.
import { fileURLToPath } from 'node:url';
import type { TestNet } from './netns.js';

export interface ResponderOptions {
  delayMs?: number;
  jitterMs?: number;
  /** Extra copies of every reply (1 = each reply arrives twice). */
  dup?: number;
  /** Only answer this family; default both. */
  family?: 4 | 6;
  /** Busy-wait window before each due time; 0 saves CPU at ~1 ms accuracy cost. */
  spinMs?: number;
  readyTimeoutMs?: number;
}

export interface ResponderStats {
  requests: number;
  replies: number;
  sendErrors: number;
}

export interface Responder {
  readonly pid: number;
  /** SIGTERMs the responder and returns its counters; the kernel answers pings again once the last responder of a net stops. */
  stop(): Promise<ResponderStats>;
}

export const RESPONDER_PATH = fileURLToPath(new URL('./responder.js', import.meta.url));

// Two responders (e.g. one per family) may share a net; only the last stop()
// hands echo answering back to the kernel.
const running = new WeakMap<TestNet, number>();

function parseStats(stdout: string): ResponderStats {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    const v: unknown = JSON.parse(last);
    if (typeof v === 'object' && v !== null) {
      const r = v as Record<string, unknown>;
      const num = (k: string): number => (typeof r[k] === 'number' ? r[k] : 0);
      return { requests: num('requests'), replies: num('replies'), sendErrors: num('sendErrors') };
    }
  } catch {
    // Killed before printing: fall through.
  }
  return { requests: 0, replies: 0, sendErrors: 0 };
}

export async function startResponder(net: TestNet, opts: ResponderOptions = {}): Promise<Responder> {
  const args = [
    RESPONDER_PATH,
    '--delay-ms', String(opts.delayMs ?? 0),
    '--jitter-ms', String(opts.jitterMs ?? 0),
    '--dup', String(opts.dup ?? 0),
    '--exit-on-stdin-close',
  ];
  if (opts.family !== undefined) args.push('--family', String(opts.family));
  if (opts.spinMs !== undefined) args.push('--spin-ms', String(opts.spinMs));

  await net.ignoreEcho(true);
  running.set(net, (running.get(net) ?? 0) + 1);
  const child = net.spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  // Not events.once(): that rejects on 'error' and would leave an unhandled rejection.
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const release = async (): Promise<void> => {
    const left = (running.get(net) ?? 1) - 1;
    running.set(net, left);
    if (left === 0 && !net.destroyed) await net.ignoreEcho(false);
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`responder not ready after ${opts.readyTimeoutMs ?? 5000} ms: ${stderr.trim()}`)), opts.readyTimeoutMs ?? 5000);
      const check = (): void => {
        if (/^ready$/m.test(stdout)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`responder exited with code ${code} before ready: ${stderr.trim()}`));
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    await release();
    throw e;
  }

  let stopping: Promise<ResponderStats> | undefined;
  return {
    pid: child.pid ?? -1,
    stop(): Promise<ResponderStats> {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
          await exited;
          clearTimeout(timer);
        }
        await release();
        return parseStats(stdout);
      })();
      return stopping;
    },
  };
}
