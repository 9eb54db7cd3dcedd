import { HttpError } from './http-server.js';

// Query parameters: times as ISO 8601 or epoch milliseconds, or relative to now (-1h, -7d).

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 365 * 86_400_000 };

export function parseTime(name: string, v: string | null, fallback: number, now: number): number {
  if (v === null || v === '') return fallback;
  if (/^\d+$/.test(v)) return Number(v);
  const rel = /^-(\d+(?:\.\d+)?)([smhdwy])$/.exec(v);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!]!;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new HttpError(400, `${name}: expected ISO 8601, epoch ms or -<n>[smhdwy], got "${v}"`);
  return t;
}

export function parseRange(q: URLSearchParams, now: number, defaultSpanMs: number): { from: number; to: number } {
  const to = parseTime('to', q.get('to'), now, now);
  const from = parseTime('from', q.get('from'), to - defaultSpanMs, now);
  if (from >= to) throw new HttpError(400, 'from must be before to');
  return { from, to };
}

export function parseInt(name: string, v: string | null, fallback: number, min: number, max: number): number {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name}: expected an integer ${min}..${max}, got "${v}"`);
  return n;
}
