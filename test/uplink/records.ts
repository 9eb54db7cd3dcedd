// Realistic ICMP result records for drain tests and the drain benchmark: mostly healthy
// targets, some loss, some IPv6, now and then an unreachable with an ICMP error.
import type { ProbeResult } from '../../agent/core/result.js';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export function icmpResult(i: number, opts: { packets?: number; ts?: Date } = {}): ProbeResult {
  const packets = opts.packets ?? 4;
  const v6 = i % 10 === 7;
  const down = i % 97 === 13;
  const base = 2 + (i % 40) * 0.731;
  const rtts = Array.from({ length: packets }, (_, k) => (down || (i * 7 + k) % 53 === 0 ? null : r3(base + ((i * 31 + k * 17) % 113) / 37)));
  const got = rtts.filter((r): r is number => r !== null);
  const sorted = [...got].sort((a, b) => a - b);
  const avg = got.length ? got.reduce((a, b) => a + b, 0) / got.length : null;
  const mid = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2) : null;
  return {
    schema: 1,
    type: 'icmp',
    name: `probe-${i % 200}`,
    target: v6 ? `2001:db8:${(i % 200).toString(16)}::1` : `edge-${i % 200}.isp.example.net`,
    address: v6 ? `2001:db8:${(i % 200).toString(16)}::1` : `198.18.${(i >> 8) & 255}.${i & 255}`,
    family: v6 ? 6 : 4,
    ts: (opts.ts ?? new Date(Date.UTC(2026, 0, 1) + i * 1000)).toISOString(),
    size: 56,
    sent: packets,
    received: got.length,
    duplicates: 0,
    late: 0,
    loss_pct: r3(((packets - got.length) / packets) * 100),
    min_ms: sorted.length ? sorted[0]! : null,
    avg_ms: avg === null ? null : r3(avg),
    max_ms: sorted.length ? sorted.at(-1)! : null,
    mdev_ms: avg === null ? null : r3(Math.sqrt(got.reduce((a, b) => a + (b - avg) ** 2, 0) / got.length)),
    median_ms: mid === null ? null : r3(mid),
    jitter_ms: got.length > 1 ? r3(got.slice(1).reduce((a, b, k) => a + Math.abs(b - got[k]!), 0) / (got.length - 1)) : null,
    rtts_ms: rtts,
    ttl: got.length ? (v6 ? 57 : 58) : null,
    errors: down ? [{ kind: 'icmp', type: v6 ? 1 : 3, code: v6 ? 3 : 1, from: v6 ? '2001:db8::fe' : '198.18.0.254', message: 'destination host unreachable', count: packets }] : [],
    clock_synced: true,
  };
}

export function icmpResults(first: number, n: number, opts: { packets?: number } = {}): ProbeResult[] {
  return Array.from({ length: n }, (_, k) => icmpResult(first + k, opts));
}

/** A telemetry message as the cloud parses it. */
export interface Telemetry {
  schema: number;
  device: string;
  stream: string;
  results: Array<{ seq: number } & Record<string, unknown>>;
}
