// Reference measurements with the system's iputils ping and fping, to compare
// the agent's numbers against tools everyone trusts.
import { assertTestRange } from './address-plan.js';
import { parseFpingOutput, parsePingOutput, type FpingTargetResult, type ParsedPing } from './ping-parse.js';
import { run } from './run.js';

export type { FpingTargetResult, IcmpErrorLine, ParsedPing, PingSummary } from './ping-parse.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1)$/;

/** The harness only ever pings loopback or test-range addresses. */
function assertAllowedTarget(target: string): void {
  if (!LOOPBACK.test(target)) assertTestRange(target);
}

export interface PingRefOptions {
  count: number;
  /** Seconds between packets; below 0.2 needs root (which the tests are). */
  intervalS: number;
  /** ICMP payload bytes (ping -s); at least 16 or ping prints no RTT. */
  sizeBytes?: number;
  /** How long to wait for late replies after the last packet (ping -W); default 1 s. */
  timeoutS?: number;
  family?: 4 | 6;
  /** Run ping inside this namespace; default the root namespace. */
  ns?: string | null;
}

export interface PingRefResult extends ParsedPing {
  target: string;
  exitCode: number;
  output: string;
}

export async function pingRef(target: string, opts: PingRefOptions): Promise<PingRefResult> {
  assertAllowedTarget(target);
  const timeoutS = opts.timeoutS ?? 1;
  const args = ['-n', '-c', String(opts.count), '-i', String(opts.intervalS), '-W', String(timeoutS)];
  if (opts.sizeBytes !== undefined) args.push('-s', String(opts.sizeBytes));
  if (opts.family !== undefined) args.push(`-${opts.family}`);
  args.push(target);
  const res = await run('ping', args, {
    ns: opts.ns ?? null,
    allowFail: true,
    timeoutMs: (opts.count * opts.intervalS + timeoutS + 10) * 1000,
  });
  // Exit 1 just means "some packets unanswered"; 2 is a real error (bad address, no route...).
  if (res.code !== 0 && res.code !== 1) {
    throw new Error(`ping ${args.join(' ')} failed with exit code ${res.code}: ${res.stderr.trim()}`);
  }
  return { target, exitCode: res.code, output: res.stdout, ...parsePingOutput(res.stdout, opts.count) };
}

export interface FpingRefOptions {
  /** Probes per target (fping -C). */
  count: number;
  /** Milliseconds between probes to the same target (fping -p); default 1000. */
  periodMs?: number;
  /** Milliseconds between any two probes (fping -i); default 1 (fping's own default is 10). */
  intervalMs?: number;
  /**
   * Per-probe reply timeout in ms (fping -t); default min(periodMs, 2000) like fping.
   * Measured here, fping's RTTs spread more than ping's (occasional +2..4 ms against a
   * delayed responder), so use pingRef when single-packet accuracy matters.
   */
  timeoutMs?: number;
  sizeBytes?: number;
  family?: 4 | 6;
  ns?: string | null;
}

export interface FpingRefResult {
  targets: Map<string, FpingTargetResult>;
  exitCode: number;
  stderr: string;
}

/** Pings many targets with fping, passing the list on stdin so it scales to thousands. */
export async function fpingRef(targets: readonly string[], opts: FpingRefOptions): Promise<FpingRefResult> {
  targets.forEach(assertAllowedTarget);
  const periodMs = opts.periodMs ?? 1000;
  const intervalMs = opts.intervalMs ?? 1;
  const timeoutMs = opts.timeoutMs ?? Math.min(periodMs, 2000);
  const args = ['-q', '-C', String(opts.count), '-p', String(periodMs), '-i', String(intervalMs), '-t', String(timeoutMs)];
  if (opts.sizeBytes !== undefined) args.push('-b', String(opts.sizeBytes));
  if (opts.family !== undefined) args.push(`-${opts.family}`);
  args.push('-f', '-');
  const sendingMs = Math.max(opts.count * periodMs, opts.count * targets.length * intervalMs);
  const res = await run('fping', args, {
    ns: opts.ns ?? null,
    input: `${targets.join('\n')}\n`,
    allowFail: true,
    timeoutMs: sendingMs + timeoutMs + 30_000,
  });
  // 0: all alive, 1: some unreachable; anything else (2 unknown host, 3 bad args, 4 syscall) is an error.
  if (res.code !== 0 && res.code !== 1) {
    throw new Error(`fping ${args.join(' ')} failed with exit code ${res.code}: ${res.stderr.trim().slice(0, 500)}`);
  }
  return { targets: parseFpingOutput(res.stderr), exitCode: res.code, stderr: res.stderr };
}
