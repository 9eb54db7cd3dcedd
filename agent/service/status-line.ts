import type { Health } from './health.js';

/** What `systemctl status` shows on its Status: line, gathered by the supervisor. */
export interface StatusFacts {
  /** Null before the schedule starts. */
  monitoring: boolean | null;
  probes: number;
  /** Results waiting in the outbox; null when its stats cannot be read. */
  buffered: number | null;
  uplink: 'none' | 'connected' | 'disconnected';
  clockSynced: boolean;
  health: Health;
}

/** e.g. "probing 12 targets, 3,204 results buffered, broker connected" */
export function formatStatus(f: StatusFacts): string {
  const parts: string[] = [];
  if (f.monitoring === null) parts.push('starting');
  else if (!f.monitoring) parts.push('monitoring disabled');
  else if (f.probes === 0) parts.push('no probes configured');
  else parts.push(`probing ${plural(f.probes, 'target')}`);
  parts.push(f.buffered === null ? 'outbox unreadable' : `${plural(f.buffered, 'result')} buffered`);
  parts.push(f.uplink === 'none' ? 'no uplink' : `broker ${f.uplink}`);
  if (!f.clockSynced) parts.push('clock not synchronized');
  const line = parts.join(', ');
  return f.health.healthy ? line : `UNHEALTHY (${f.health.reason ?? 'unknown'}); ${line}`;
}

function plural(n: number, noun: string): string {
  return `${grouped(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/** 3204 -> "3,204", the same whatever the locale (and ICU) of the device. */
export function grouped(n: number): string {
  return String(Math.trunc(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
