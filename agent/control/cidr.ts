import { isIPv4, isIPv6 } from 'node:net';

// IP addresses and CIDR ranges as integers, for the safety policy. Written out rather than
// using net.BlockList so that IPv4-mapped IPv6 addresses are handled one explicit way.

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  base: bigint;
  prefix: number;
  /** As written in the config, for messages. */
  text: string;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

function parseV4(s: string): bigint | null {
  if (!isIPv4(s)) return null;
  return s.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(s: string): bigint | null {
  if (!isIPv6(s)) return null;
  let text = s;
  // A trailing dotted quad (::ffff:1.2.3.4) is the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseV4(tail);
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  const groups = (h: string | undefined): string[] => (h ? h.split(':') : []);
  const left = groups(halves[0]);
  const right = halves.length > 1 ? groups(halves[1]) : [];
  const all = halves.length > 1 ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  if (all.length !== 8) return null;
  return all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/**
 * An IP literal (a zone suffix such as %eth0 is ignored). IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) come back as the IPv4 address they stand for: packets go there.
 */
export function parseIp(text: string): IpAddress | null {
  const bare = text.replace(/%.*$/, '');
  const v4 = parseV4(bare);
  if (v4 !== null) return { family: 4, value: v4 };
  const v6 = parseV6(bare);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffff_ffffn };
  return { family: 6, value: v6 };
}

/** "a.b.c.d/n", "x::/n", or a bare address (one host). Host bits must be zero. */
export function parseCidr(text: string): Cidr | null {
  return cidrOrProblem(text).cidr;
}

/** Why a CIDR range is not valid (null when it is), for config validation. */
export function cidrProblem(text: string): string | null {
  return cidrOrProblem(text).problem;
}

function cidrOrProblem(text: string): { cidr: Cidr | null; problem: string | null } {
  const fail = (problem: string): { cidr: null; problem: string } => ({ cidr: null, problem: `${text}: ${problem}` });
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseV4(addrText);
  const v6 = v4 === null && !addrText.includes('%') ? parseV6(addrText) : null;
  if (v4 === null && v6 === null) return fail('not an IP address or CIDR range');
  const family: IpFamily = v4 !== null ? 4 : 6;
  const value = (v4 ?? v6)!;
  const bits = BITS[family];
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return fail(`prefix length must be 0..${bits}`);
    prefix = Number(p);
  }
  const base = value & mask(family, prefix);
  if (base !== value) return fail(`host bits set (did you mean ${format(family, base)}/${prefix}?)`);
  return { cidr: { family, base, prefix, text }, problem: null };
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return prefix === 0 ? 0n : (all >> (bits - BigInt(prefix))) << (bits - BigInt(prefix));
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  return c.family === ip.family && (ip.value & mask(c.family, c.prefix)) === c.base;
}

/** The broadcast address of an IPv4 subnet, or null where the subnet has none (/31, /32). */
export function ipv4Broadcast(address: string, netmask: string): bigint | null {
  const a = parseV4(address);
  const m = parseV4(netmask);
  if (a === null || m === null) return null;
  const host = ~m & 0xffff_ffffn;
  return host <= 1n ? null : a | host;
}

export function format(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:::+/, '::');
}

/** Parses a list of ranges known to be valid (the schema checked them). */
export function cidrList(texts: readonly string[] | undefined): Cidr[] {
  return (texts ?? []).map((t) => {
    const c = parseCidr(t);
    if (c === null) throw new RangeError(cidrProblem(t) ?? t);
    return c;
  });
}
