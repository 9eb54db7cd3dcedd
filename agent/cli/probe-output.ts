import type { ProbeResult } from '../core/result.js';

const f3 = (v: number | null): string => (v === null ? '-' : v.toFixed(3));

/** A ping-style summary block for one target and round. */
export function formatSummary(r: ProbeResult, round: number | null): string {
  const who = r.address && r.address !== r.name ? `${r.name} (${r.address})` : r.name;
  const lines = [`--- ${who} ping statistics${round === null ? '' : ` (round ${round}, ${r.ts})`} ---`];
  const parts = [`${r.sent} packets transmitted`, `${r.received} received`];
  if (r.duplicates > 0) parts.push(`+${r.duplicates} duplicates`);
  if (r.late > 0) parts.push(`${r.late} late`);
  const icmpErrors = r.errors.filter((e) => e.kind !== 'resolve').reduce((n, e) => n + e.count, 0);
  if (icmpErrors > 0) parts.push(`+${icmpErrors} errors`);
  parts.push(`${Number(r.loss_pct.toFixed(1))}% packet loss`);
  lines.push(parts.join(', '));
  if (r.received > 0) {
    lines.push(`rtt min/avg/max/mdev = ${f3(r.min_ms)}/${f3(r.avg_ms)}/${f3(r.max_ms)}/${f3(r.mdev_ms)} ms`);
    lines.push(`rtt median ${f3(r.median_ms)} ms, jitter ${f3(r.jitter_ms)} ms, ttl ${r.ttl ?? '-'}`);
  }
  for (const e of r.errors) {
    const from = e.from ? `From ${e.from}: ` : '';
    const code = e.kind === 'icmp' ? ` (type ${e.type}, code ${e.code})` : e.code !== undefined ? ` (${e.code})` : '';
    lines.push(`${from}${e.message}${code}${e.count > 1 ? ` x${e.count}` : ''}`);
  }
  return lines.join('\n');
}
