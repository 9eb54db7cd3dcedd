// nftables scripts applied inside a far namespace with `nft -f -`. Each script
// starts with the idempotent preamble so no separate setup step (and no extra
// process spawn) is needed, and each flush+add pair is applied atomically.
import { parseCidr } from './address-plan.js';

export const NFT_TABLE = 'inet fptest';

export type UnreachableKind = 'net' | 'host' | 'admin';

const PREAMBLE = [
  `add table ${NFT_TABLE}`,
  // Outgoing echo replies (kernel or responder) pass the output hook.
  `add chain ${NFT_TABLE} loss { type filter hook output priority 0; policy accept; }`,
  // Raw sockets see packets only after the input hook, so this silences the responder too.
  `add chain ${NFT_TABLE} silent { type filter hook input priority 0; policy accept; }`,
  // Rejecting in prerouting needs neither forwarding nor a route, and unlike
  // `ip route add unreachable` it is not throttled by the global
  // net.ipv4.route.error_cost token bucket (1 error/s per source after a burst of 5).
  `add chain ${NFT_TABLE} unreach { type filter hook prerouting priority -300; policy accept; }`,
];

/**
 * Drop `pct` percent of outgoing echo replies. Uses mod 10000 so fractional
 * percentages (e.g. 0.5) are honoured exactly instead of being rounded to 1 %.
 */
export function lossScript(pct: number): string {
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw new RangeError(`loss ${pct}% outside 0..100`);
  const lines = [...PREAMBLE, `flush chain ${NFT_TABLE} loss`];
  const threshold = Math.round(pct * 100);
  if (threshold > 0) {
    // nft rejects "< 10000" against mod 10000 (value out of range), so 100 % is unconditional.
    const cond = threshold >= 10000 ? '' : ` numgen random mod 10000 < ${threshold}`;
    lines.push(
      `add rule ${NFT_TABLE} loss icmp type echo-reply${cond} drop`,
      `add rule ${NFT_TABLE} loss icmpv6 type echo-reply${cond} drop`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function silentScript(on: boolean): string {
  const lines = [...PREAMBLE, `flush chain ${NFT_TABLE} silent`];
  if (on) {
    lines.push(
      `add rule ${NFT_TABLE} silent icmp type echo-request drop`,
      `add rule ${NFT_TABLE} silent icmpv6 type echo-request drop`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const V4_CODES: Record<UnreachableKind, string> = {
  net: 'net-unreachable',
  host: 'host-unreachable',
  admin: 'admin-prohibited',
};

// ICMPv6 has no "net unreachable"; code 0 (no route) is the closest equivalent.
const V6_CODES: Record<UnreachableKind, string> = {
  net: 'no-route',
  host: 'addr-unreachable',
  admin: 'admin-prohibited',
};

export function rejectScript(cidr: string, kind: UnreachableKind): string {
  const { family } = parseCidr(cidr);
  const rule =
    family === 4
      ? `ip daddr ${cidr} reject with icmp type ${V4_CODES[kind]}`
      : `ip6 daddr ${cidr} reject with icmpv6 type ${V6_CODES[kind]}`;
  return `${[...PREAMBLE, `add rule ${NFT_TABLE} unreach ${rule}`].join('\n')}\n`;
}
