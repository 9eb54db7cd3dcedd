// Parsers for iputils ping and fping output (C locale, numeric addresses).

export interface PingSummary {
  minMs: number;
  avgMs: number;
  maxMs: number;
  mdevMs: number;
}

export interface IcmpErrorLine {
  seq: number;
  from: string;
  /** e.g. "Destination Net Unreachable" or "Destination unreachable: No route". */
  message: string;
}

export interface ParsedPing {
  transmitted: number;
  received: number;
  duplicates: number;
  errors: number;
  lossPct: number;
  /** First reply per packet, indexed by icmp_seq - 1 (iputils starts at 1); null = no reply. */
  rtts: (number | null)[];
  /** Every reply ping flagged "(DUP!)". */
  dupRtts: { seq: number; rttMs: number }[];
  icmpErrors: IcmpErrorLine[];
  summary: PingSummary | null;
}

// The address can contain colons (IPv6); the greedy \S+ backtracks to the last ':' before the space.
const REPLY = /^\d+ bytes from (\S+): icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms( \(DUP!\))?/;
const ERROR = /^From (\S+) icmp_seq=(\d+) (.+)$/;
const COUNTS = /^(\d+) packets transmitted, (\d+) received/;
const RTT = /^rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/;

function matchNumber(line: string, re: RegExp): number {
  const m = re.exec(line);
  return m ? Number(m[1]) : 0;
}

export function parsePingOutput(stdout: string, count: number): ParsedPing {
  const res: ParsedPing = {
    transmitted: 0,
    received: 0,
    duplicates: 0,
    errors: 0,
    lossPct: 100,
    rtts: new Array<number | null>(count).fill(null),
    dupRtts: [],
    icmpErrors: [],
    summary: null,
  };
  for (const line of stdout.split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = REPLY.exec(line))) {
      const seq = Number(m[2]);
      const rttMs = Number(m[3]);
      if (m[4]) res.dupRtts.push({ seq, rttMs });
      else if (seq >= 1 && seq <= count && res.rtts[seq - 1] === null) res.rtts[seq - 1] = rttMs;
    } else if ((m = ERROR.exec(line))) {
      res.icmpErrors.push({ from: m[1] ?? '', seq: Number(m[2]), message: m[3] ?? '' });
    } else if ((m = COUNTS.exec(line))) {
      res.transmitted = Number(m[1]);
      res.received = Number(m[2]);
      res.duplicates = matchNumber(line, /\+(\d+) duplicates/);
      res.errors = matchNumber(line, /\+(\d+) errors/);
      res.lossPct = matchNumber(line, /([\d.]+)% packet loss/);
    } else if ((m = RTT.exec(line))) {
      res.summary = { minMs: Number(m[1]), avgMs: Number(m[2]), maxMs: Number(m[3]), mdevMs: Number(m[4]) };
    }
  }
  return res;
}

export interface FpingTargetResult {
  sent: number;
  received: number;
  /** One entry per probe in send order; null = lost. */
  rtts: (number | null)[];
  duplicates: number;
}

// With -q everything goes to stderr: "198.18.8.1   : 0.05 0.04 -" per target at
// the end, preceded by "198.18.8.1 : duplicate for [0], 64 bytes, 0.06 ms" lines
// (fping 5.1 reports duplicates only in quiet mode).
const FPING_SUMMARY = /^(\S+)\s+: ((?:[\d.]+|-)(?: (?:[\d.]+|-))*)\s*$/;
const FPING_DUP = /^(\S+)\s+: duplicate for \[\d+\]/;

export function parseFpingOutput(stderr: string): Map<string, FpingTargetResult> {
  const out = new Map<string, FpingTargetResult>();
  const dups = new Map<string, number>();
  for (const line of stderr.split('\n')) {
    const dup = FPING_DUP.exec(line);
    if (dup) {
      const target = dup[1] ?? '';
      dups.set(target, (dups.get(target) ?? 0) + 1);
      continue;
    }
    const m = FPING_SUMMARY.exec(line);
    if (!m) continue;
    const rtts = (m[2] ?? '').split(' ').map((t) => (t === '-' ? null : Number(t)));
    out.set(m[1] ?? '', { sent: rtts.length, received: rtts.filter((r) => r !== null).length, rtts, duplicates: 0 });
  }
  for (const [target, n] of dups) {
    const entry = out.get(target);
    if (entry) entry.duplicates = n;
  }
  return out;
}
