import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import cronParser from 'cron-parser';
import type { OperationalConfig, SafetyConfig } from '../config/schema.js';
import type { AddressGuard } from '../core/probe.js';
import { cidrContains, cidrList, ipv4Broadcast, parseCidr, parseIp, type Cidr, type IpAddress } from './cidr.js';

export type InterfacesFn = () => NodeJS.Dict<NetworkInterfaceInfo[]>;

export interface PolicyViolation {
  /** JSON path into the config document (probes[2].ip_address). */
  path: string;
  reason: string;
}

const fixed = (texts: string[]): Cidr[] => texts.map((t) => parseCidr(t)!);
const MULTICAST = fixed(['224.0.0.0/4', 'ff00::/8']);
const UNSPECIFIED = fixed(['0.0.0.0/8', '::/128']);
const LIMITED_BROADCAST = fixed(['255.255.255.255/32']);
const LOOPBACK = fixed(['127.0.0.0/8', '::1/128']);

/** Local addresses change (DHCP, interfaces coming up): looked up again after this long. */
const INTERFACES_TTL_MS = 5000;

interface LocalAddresses {
  own: Map<bigint, string>;
  broadcasts: Map<bigint, string>;
}

/**
 * The safety policy for config that comes from the cloud: caps on rate, probe count,
 * period and size, and which addresses may be probed at all. Config from the local file
 * and the CLI is the operator's own choice and is never held to it.
 */
export class SafetyPolicy {
  private readonly allow: Cidr[] | null;
  private readonly deny: Cidr[];
  private local: { at: number; addresses: LocalAddresses } | null = null;

  constructor(
    readonly settings: SafetyConfig,
    private readonly interfaces: InterfacesFn = networkInterfaces,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.allow = settings.allow_cidrs === undefined ? null : cidrList(settings.allow_cidrs);
    this.deny = cidrList(settings.deny_cidrs);
  }

  /** Why remote config may not send to this address, or null when it may. */
  refusal(address: string): string | null {
    const ip = parseIp(address);
    if (ip === null) return `${address} is not an IP address`;
    if (inAny(MULTICAST, ip)) return `${address} is a multicast address`;
    if (inAny(UNSPECIFIED, ip)) return `${address} is an unspecified address`;
    if (inAny(LIMITED_BROADCAST, ip)) return `${address} is the broadcast address`;
    const local = this.localAddresses();
    const directed = ip.family === 4 ? local.broadcasts.get(ip.value) : undefined;
    if (directed !== undefined) return `${address} is the broadcast address of ${directed}`;
    const denied = this.deny.find((c) => cidrContains(c, ip));
    if (denied) return `${address} is inside deny_cidrs ${denied.text}`;
    const allowed = this.allow?.find((c) => cidrContains(c, ip));
    if (this.allow !== null && !allowed) return `${address} is outside allow_cidrs`;
    // Naming them in the local allow_cidrs is how an operator permits these.
    if (!allowed) {
      if (inAny(LOOPBACK, ip)) return `${address} is a loopback address (allow it with safety.allow_cidrs)`;
      const own = local.own.get(key(ip));
      if (own !== undefined) return `${address} is an address of this device (${own}; allow it with safety.allow_cidrs)`;
    }
    return null;
  }

  /** The per-resolution check for remote probes; `onRefused` hears about every refusal. */
  guard(onRefused: (message: string) => void = () => undefined): AddressGuard {
    return (address) => {
      const why = this.refusal(address);
      if (why !== null) onRefused(why);
      return why;
    };
  }

  /** Every way a config breaks the policy; empty when it may be applied. */
  check(ops: OperationalConfig): PolicyViolation[] {
    const s = this.settings;
    const out: PolicyViolation[] = [];
    if (ops.probes.length > s.max_probes) out.push({ path: 'probes', reason: `${ops.probes.length} probes exceed max_probes ${s.max_probes}` });
    let pps = 0;
    ops.probes.forEach((p, i) => {
      const at = (field: string): string => `probes[${i}].${field}`;
      const period = probePeriod(p, ops.agent_operations.probe_interval);
      const periodPath = p.cron !== undefined ? at('cron') : p.probe_interval !== undefined ? at('probe_interval') : 'agent_operations.probe_interval';
      if (period.error !== null) out.push({ path: at('cron'), reason: period.error });
      else if (period.seconds < s.min_probe_interval_s) {
        out.push({ path: periodPath, reason: `rounds every ${round(period.seconds)} s: below min_probe_interval_s ${s.min_probe_interval_s}` });
      }
      const own = 1000 / p.interval_ms;
      if (own > s.max_pps) out.push({ path: at('interval_ms'), reason: `${round(own)} packets/s within a round exceed max_pps ${s.max_pps}` });
      if (p.size > s.max_size) out.push({ path: at('size'), reason: `${p.size} bytes exceed max_size ${s.max_size}` });
      // Host names are checked after every resolution instead (the guard).
      if (parseIp(p.ip_address) !== null) {
        const why = this.refusal(p.ip_address);
        if (why !== null) out.push({ path: at('ip_address'), reason: why });
      }
      if (period.error === null) pps += p.count / Math.max(period.seconds, 1e-3);
    });
    if (pps > s.max_pps * (1 + 1e-9)) out.push({ path: 'probes', reason: `${round(pps)} packets/s in total (count / period, summed) exceed max_pps ${s.max_pps}` });
    return out;
  }

  private localAddresses(): LocalAddresses {
    const now = this.now();
    if (this.local && now - this.local.at < INTERFACES_TTL_MS) return this.local.addresses;
    const addresses: LocalAddresses = { own: new Map(), broadcasts: new Map() };
    for (const [name, infos] of Object.entries(this.interfaces())) {
      for (const info of infos ?? []) {
        const ip = parseIp(info.address);
        if (ip === null) continue;
        addresses.own.set(key(ip), name);
        if (ip.family === 4) {
          const b = ipv4Broadcast(info.address, info.netmask);
          if (b !== null) addresses.broadcasts.set(b, name);
        }
      }
    }
    this.local = { at: now, addresses };
    return addresses;
  }
}

function inAny(list: readonly Cidr[], ip: IpAddress): boolean {
  return list.some((c) => cidrContains(c, ip));
}

/** One map for both families: IPv6 keys are offset past the IPv4 range. */
function key(ip: IpAddress): bigint {
  return ip.family === 4 ? ip.value : ip.value + (1n << 32n);
}

function round(n: number): string {
  return String(Math.round(n * 100) / 100);
}

type ProbeLike = OperationalConfig['probes'][number];

/**
 * Seconds between round starts: the probe's interval, or the shortest gap its cron
 * schedule can have. Worked out from the parsed fields, not by iterating the schedule:
 * cron-parser needs up to seconds for a few hundred occurrences, and a remote config may
 * hold hundreds of cron probes. Day-of-month, month and weekday only make gaps longer, so
 * the time-of-day fields give a lower bound (exact for daily schedules).
 */
export function probePeriod(p: ProbeLike, defaultInterval: number): { seconds: number; error: null } | { seconds: 0; error: string } {
  if (p.cron === undefined) return { seconds: p.probe_interval ?? defaultInterval, error: null };
  let fields: { second: readonly number[]; minute: readonly number[]; hour: readonly number[] };
  try {
    fields = cronParser.parseExpression(p.cron).fields;
  } catch (err) {
    return { seconds: 0, error: `cannot work out the cron schedule's rate: ${(err as Error).message}` };
  }
  const hours = shortestGap(fields.hour, 3600, 86_400);
  const minutes = shortestGap(fields.minute, 60, hours);
  return { seconds: shortestGap(fields.second, 1, minutes), error: null };
}

/**
 * The shortest gap between consecutive values of one cron field, in seconds: between
 * values within one cycle of the next larger field, or across into its next cycle (which
 * starts `cycle` seconds later at the soonest).
 */
function shortestGap(values: readonly number[], unit: number, cycle: number): number {
  const v = [...new Set(values)].sort((a, b) => a - b);
  if (v.length <= 1) return cycle;
  let min = cycle - (v[v.length - 1]! - v[0]!) * unit;
  for (let i = 1; i < v.length; i++) min = Math.min(min, (v[i]! - v[i - 1]!) * unit);
  return min;
}
