import { isIP } from 'node:net';

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/**
 * Why a target can never be resolved (null when it may be): not an IP literal and not a
 * hostname by RFC 1123 (labels of letters, digits and hyphens, at most 253 characters, and a
 * top-level label that is not all digits, so that "10.0.0.300" is refused, not looked up).
 */
export function targetProblem(target: string): string | null {
  if (isIP(target) !== 0) return null;
  if (target.length === 0) return 'empty target';
  if (target.includes(':')) return `${target}: not a valid IPv6 address`;
  const name = target.endsWith('.') ? target.slice(0, -1) : target;
  if (name.length > 253) return `${target}: hostname longer than 253 characters`;
  const labels = name.split('.');
  if (labels.some((l) => !LABEL.test(l))) return `${target}: not an IP address or a valid hostname`;
  if (/^\d+$/.test(labels[labels.length - 1]!)) return `${target}: not a valid IPv4 address`;
  return null;
}
