// Address plan for test namespaces. All test traffic must stay inside
// 198.18.0.0/15 (RFC 2544 benchmarking) and a private ULA, so every address the
// harness hands out is computed here and nowhere else.
//
// The v4 range is cut into SLOT_COUNT /19 blocks, one per live TestNet (a slot is
// claimed across processes by creating the root-side veth `fptestNN`):
//   offset 0..3       veth link /30: .1 root side, .2 far side
//   offset 256..2047  seven spare /24s for unreachable/prohibited tests
//   offset 2048..8191 host pool (24 /24s, .0 and .255 skipped => 6096 hosts)
// The whole /19 is routed to the far side with one route; the /30 on-link route
// is more specific, so the pool never touches the root neighbour table.
// v6 uses one /56 per slot: subnet 0 is the link, 1 the pool, 2..255 spares.
import net from 'node:net';

export const V4_RANGE = '198.18.0.0/15';
export const V6_RANGE = 'fd66:7072:6f62::/48';
export const SLOT_COUNT = 16;
export const POOL4_CAPACITY = 24 * 254;
export const POOL6_CAPACITY = 0xffff;
export const SPARE4_COUNT = 7;
export const SPARE6_COUNT = 254;

const V4_BASE = ((198 << 24) | (18 << 16)) >>> 0;
const V4_SLOT_SIZE = 8192;
const V6_PREFIX = 'fd66:7072:6f62';

export interface SlotPlan {
  slot: number;
  /** Root-side veth name; its existence is the cross-process claim on the slot. */
  rootLink: string;
  block4: string;
  localAddr4: string;
  hostAddr4: string;
  linkPrefixLen4: number;
  block6: string;
  localAddr6: string;
  hostAddr6: string;
  linkPrefixLen6: number;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** inet_ntop-style text, so strings compare equal to what ping/fping print. */
export function canonicalIpv6(addr: string): string {
  return new URL(`http://[${addr}]/`).hostname.slice(1, -1);
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
    throw new RangeError(`slot ${slot} outside 0..${SLOT_COUNT - 1}`);
  }
}

function v4Base(slot: number): number {
  checkSlot(slot);
  return V4_BASE + slot * V4_SLOT_SIZE;
}

/** 4th group of a v6 address: slot+1 in the high byte keeps it non-zero, so "::" never shifts. */
function v6Subnet(slot: number, subnet: number): string {
  checkSlot(slot);
  return `${V6_PREFIX}:${(((slot + 1) << 8) | subnet).toString(16)}`;
}

export function rootLinkName(slot: number): string {
  checkSlot(slot);
  return `fptest${String(slot).padStart(2, '0')}`;
}

export function planSlot(slot: number): SlotPlan {
  const base = v4Base(slot);
  return {
    slot,
    rootLink: rootLinkName(slot),
    block4: `${intToIpv4(base)}/19`,
    localAddr4: intToIpv4(base + 1),
    hostAddr4: intToIpv4(base + 2),
    linkPrefixLen4: 30,
    block6: `${v6Subnet(slot, 0)}::/56`,
    localAddr6: `${v6Subnet(slot, 0)}::1`,
    hostAddr6: `${v6Subnet(slot, 0)}::2`,
    linkPrefixLen6: 64,
  };
}

export function poolAddr4(slot: number, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= POOL4_CAPACITY) {
    throw new RangeError(`IPv4 pool index ${index} outside 0..${POOL4_CAPACITY - 1}`);
  }
  const offset = 2048 + Math.floor(index / 254) * 256 + 1 + (index % 254);
  return intToIpv4(v4Base(slot) + offset);
}

export function poolAddr6(slot: number, index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= POOL6_CAPACITY) {
    throw new RangeError(`IPv6 pool index ${index} outside 0..${POOL6_CAPACITY - 1}`);
  }
  return `${v6Subnet(slot, 1)}::${(index + 1).toString(16)}`;
}

export function spareCidr4(slot: number, k: number): string {
  if (!Number.isInteger(k) || k < 0 || k >= SPARE4_COUNT) throw new RangeError(`no spare IPv4 /24 #${k}`);
  return `${intToIpv4(v4Base(slot) + 256 * (k + 1))}/24`;
}

export function spareCidr6(slot: number, k: number): string {
  if (!Number.isInteger(k) || k < 0 || k >= SPARE6_COUNT) throw new RangeError(`no spare IPv6 /64 #${k}`);
  return `${v6Subnet(slot, k + 2)}::/64`;
}

export interface Cidr {
  addr: string;
  prefixLen: number;
  family: 4 | 6;
}

export function parseCidr(cidr: string): Cidr {
  const [addr = '', len, ...rest] = cidr.split('/');
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) ? 6 : 0;
  const prefixLen = Number(len);
  const max = family === 4 ? 32 : 128;
  if (family === 0 || rest.length > 0 || len === undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) {
    throw new Error(`invalid CIDR "${cidr}"`);
  }
  return { addr, prefixLen, family };
}

/** True when every address of `inner` lies inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (o.family !== i.family || i.prefixLen < o.prefixLen) return false;
  const list = new net.BlockList();
  const type = o.family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(o.addr, o.prefixLen, type);
  return list.check(i.addr, type);
}

/** Guard against a test aiming real traffic at the LAN: only our two ranges are allowed. */
export function assertTestRange(cidrOrAddr: string): void {
  const cidr = cidrOrAddr.includes('/') ? cidrOrAddr : `${cidrOrAddr}/${net.isIPv4(cidrOrAddr) ? 32 : 128}`;
  if (!cidrContains(V4_RANGE, cidr) && !cidrContains(V6_RANGE, cidr)) {
    throw new Error(`${cidrOrAddr} is outside the test ranges ${V4_RANGE} and ${V6_RANGE}`);
  }
}
