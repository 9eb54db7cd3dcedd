import type { IcmpProbeSpec } from '../core/probe.js';
import { icmpProbeSchema, PROBE_LIMITS } from '../config/probe-schema.js';
import { parseCommandArgs } from './args.js';
import { UsageError } from './errors.js';

export interface ProbeOptions {
  specs: IcmpProbeSpec[];
  rounds: number;
  every_s: number;
  json: boolean;
}

export const PROBE_USAGE = `Usage: fleetprobe probe [options] <target...>

Sends ICMP echo requests to each target (IP address or hostname) and prints a summary
per target and round, like ping. Needs CAP_NET_RAW (root, or the packaged service).

Options:
  -c, --count N          echo requests per target and round (default 4, 1..100000)
  -i, --interval S       seconds between requests to one target (default 1, min 0.002)
  -s, --size BYTES       ICMP payload bytes (default 56, 16..65507)
  -W, --timeout S        seconds to wait for each reply (default 1)
  -4, -6                 use IPv4 / IPv6 only
      --rounds N         rounds to run (default 1)
      --every S          seconds between round starts (default: the length of a round)
      --json             print one result record per target and round (NDJSON)
  -h, --help             show this help

Exit status: 0 every target answered at least once; 1 some target did not (or could
not be resolved); 2 usage error; 77 missing privilege.`;

const OPTIONS = {
  count: { type: 'string', short: 'c' },
  interval: { type: 'string', short: 'i' },
  size: { type: 'string', short: 's' },
  timeout: { type: 'string', short: 'W' },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  rounds: { type: 'string' },
  every: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const FLAGS: Record<string, string> = {
  count: '-c/--count', interval_ms: '-i/--interval', size: '-s/--size', timeout_ms: '-W/--timeout', ip_address: 'target',
};

function num(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text)) throw new UsageError(`${flag}: '${text}' is not a non-negative number`);
  return Number(text);
}

function rangeText(field: string): string | null {
  const s = (v: number): string => String(v / 1000);
  if (field === 'count') return `${PROBE_LIMITS.count.min}..${PROBE_LIMITS.count.max}`;
  if (field === 'size') return `${PROBE_LIMITS.size.min}..${PROBE_LIMITS.size.max} bytes`;
  if (field === 'interval_ms') return `${s(PROBE_LIMITS.interval_ms.min)}..${s(PROBE_LIMITS.interval_ms.max)} seconds`;
  if (field === 'timeout_ms') return `${s(PROBE_LIMITS.timeout_ms.min)}..${s(PROBE_LIMITS.timeout_ms.max)} seconds`;
  return null;
}

/** Parses and validates `probe` arguments; every problem is a UsageError (exit 2). */
export function parseProbeArgs(argv: readonly string[]): ProbeOptions | 'help' {
  const parsed = parseCommandArgs(argv, OPTIONS, Infinity);
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.ipv4 && v.ipv6) throw new UsageError('-4 and -6 are mutually exclusive');
  if (parsed.positionals.length === 0) throw new UsageError('no target given (try: fleetprobe probe 127.0.0.1)');
  const family = v.ipv4 ? 4 : v.ipv6 ? 6 : undefined;
  const raw = {
    count: num('-c/--count', v.count, 4),
    size: num('-s/--size', v.size, 56),
    interval_ms: num('-i/--interval', v.interval, 1) * 1000,
    timeout_ms: num('-W/--timeout', v.timeout, 1) * 1000,
  };
  const specs = parsed.positionals.map((target): IcmpProbeSpec => {
    const r = icmpProbeSchema.safeParse({ name: target, ip_address: target, family, ...raw });
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const field = String(issue.path[0] ?? '');
      const range = rangeText(field);
      const value = field in raw ? String((raw as Record<string, number>)[field]! / (field.endsWith('_ms') ? 1000 : 1)) : target;
      throw new UsageError(range ? `${FLAGS[field]}: ${value} is out of range (${range})` : `${FLAGS[field] ?? field}: ${issue.message}`);
    }
    const p = r.data;
    return { name: p.name, target: p.ip_address, family: p.family ?? null, count: p.count, size: p.size, interval_ms: p.interval_ms, timeout_ms: p.timeout_ms };
  });
  const rounds = num('--rounds', v.rounds, 1);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1_000_000) throw new UsageError(`--rounds: ${v.rounds} is out of range (1..1000000)`);
  const first = specs[0]!;
  const natural = ((first.count - 1) * first.interval_ms + first.interval_ms + first.timeout_ms) / 1000;
  const every = num('--every', v.every, natural);
  if (every < 0.01 || every > 86_400) throw new UsageError(`--every: ${v.every} is out of range (0.01..86400 seconds)`);
  return { specs, rounds, every_s: every, json: v.json ?? false };
}
