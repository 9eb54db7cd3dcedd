// TestNet: one "far host" network namespace joined to the root namespace by a
// veth pair, with knobs for loss, silence, ICMP errors and many extra addresses.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import {
  POOL4_CAPACITY,
  POOL6_CAPACITY,
  SLOT_COUNT,
  cidrContains,
  parseCidr,
  planSlot,
  poolAddr4,
  poolAddr6,
  spareCidr4,
  spareCidr6,
  type SlotPlan,
} from './address-plan.js';
import {
  FAR_LINK,
  GUARD_ROUTES_V4,
  GUARD_ROUTES_V6,
  cleanupStale,
  removeGuardIfUnused,
  removeNamespace,
  removeNamespaceSync,
} from './netns-cleanup.js';
import { lossScript, rejectScript, silentScript, type UnreachableKind } from './nft-rules.js';
import { run, spawnIn, type RunOptions, type RunResult } from './run.js';
import { ensurePoolLink, POOL_LINK } from './pool-link.js';

export interface TestNetOptions {
  /** Configure IPv6 on the veth (default true). */
  ipv6?: boolean;
}

const NS_SYSCTLS = [
  // Addresses must be usable the moment create() returns; DAD would hold
  // link-local and global addresses "tentative" for about a second.
  'net.ipv6.conf.all.accept_dad=0',
  'net.ipv6.conf.default.accept_dad=0',
  // Deterministic ICMP errors: by default unreachables are limited to ~1/s per peer.
  'net.ipv4.icmp_ratelimit=0',
  'net.ipv6.icmp.ratelimit=0',
  'net.ipv4.icmp_msgs_per_sec=1000000',
  'net.ipv4.icmp_msgs_burst=1000000',
];

let nsCounter = 0;
const heldSlots = new Set<number>();
const live = new Set<TestNet>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last chance for tests that forgot destroy() or died on an exception.
  process.on('exit', () => {
    for (const net of live) removeNamespaceSync(net.ns, net.rootLink);
  });
}

async function createNamespace(): Promise<string> {
  for (;;) {
    const ns = `fptest-${process.pid}-${++nsCounter}`;
    const res = await run('ip', ['netns', 'add', ns], { allowFail: true });
    if (res.code === 0) return ns;
    // A leftover from an earlier process with the same pid: try the next number.
    if (!/exists/i.test(res.stderr)) throw new Error(`ip netns add ${ns} failed: ${res.stderr.trim()}`);
  }
}

/** The root-side veth name is unique per slot, so creating it claims the slot atomically across processes. */
async function claimSlot(ns: string): Promise<SlotPlan> {
  for (let slot = 0; slot < SLOT_COUNT; slot++) {
    if (heldSlots.has(slot)) continue;
    const plan = planSlot(slot);
    const res = await run('ip', ['link', 'add', plan.rootLink, 'type', 'veth', 'peer', 'name', FAR_LINK, 'netns', ns], {
      allowFail: true,
    });
    if (res.code === 0) {
      heldSlots.add(slot);
      return plan;
    }
    if (!/exists/i.test(res.stderr)) throw new Error(`cannot create veth ${plan.rootLink}: ${res.stderr.trim()}`);
  }
  throw new Error(`all ${SLOT_COUNT} TestNet slots are in use; destroy() instances or run TestNet.cleanupStale()`);
}

export class TestNet {
  private pool4Next = 0;
  private pool6Next = 0;
  private spare4Next = 0;
  private spare6Next = 0;
  private destroying: Promise<void> | undefined;

  private constructor(
    readonly ns: string,
    readonly plan: SlotPlan,
    readonly ipv6: boolean,
  ) {}

  static async create(opts: TestNetOptions = {}): Promise<TestNet> {
    const ipv6 = opts.ipv6 ?? true;
    const ns = await createNamespace();
    let plan: SlotPlan | undefined;
    try {
      await run('sysctl', ['-q', '-e', '-w', ...NS_SYSCTLS], { ns });
      plan = await claimSlot(ns);
      const net = new TestNet(ns, plan, ipv6);
      live.add(net);
      installExitHook();
      await net.configure();
      return net;
    } catch (e) {
      if (plan) heldSlots.delete(plan.slot);
      for (const n of live) if (n.ns === ns) live.delete(n);
      await removeNamespace(ns, plan?.rootLink ?? null);
      throw e;
    }
  }

  /** Removes `fptest-*` namespaces, veths and guard routes left by dead processes. */
  static cleanupStale(): Promise<string[]> {
    return cleanupStale();
  }

  get rootLink(): string {
    return this.plan.rootLink;
  }
  get localAddr4(): string {
    return this.plan.localAddr4;
  }
  get hostAddr4(): string {
    return this.plan.hostAddr4;
  }
  get localAddr6(): string {
    return this.requireV6().localAddr6;
  }
  get hostAddr6(): string {
    return this.requireV6().hostAddr6;
  }
  /** Everything in these prefixes is routed into this namespace. */
  get block4(): string {
    return this.plan.block4;
  }
  get block6(): string {
    return this.requireV6().block6;
  }
  get destroyed(): boolean {
    return this.destroying !== undefined;
  }

  private requireV6(): SlotPlan {
    if (!this.ipv6) throw new Error(`TestNet ${this.ns} was created with ipv6: false`);
    return this.plan;
  }

  private requireLive(): void {
    if (this.destroying) throw new Error(`TestNet ${this.ns} has been destroyed`);
  }

  private async configure(): Promise<void> {
    const p = this.plan;
    if (this.ipv6) await writeFile(`/proc/sys/net/ipv6/conf/${p.rootLink}/accept_dad`, '0');
    const far = ['link set lo up', `addr add ${p.hostAddr4}/${p.linkPrefixLen4} dev ${FAR_LINK}`];
    const root = [`link set ${p.rootLink} alias ${this.ns}`, `addr add ${p.localAddr4}/${p.linkPrefixLen4} dev ${p.rootLink}`];
    if (this.ipv6) {
      far.push(`addr add ${p.hostAddr6}/${p.linkPrefixLen6} dev ${FAR_LINK} nodad`);
      root.push(`addr add ${p.localAddr6}/${p.linkPrefixLen6} dev ${p.rootLink} nodad`);
    }
    far.push(`link set ${FAR_LINK} up`);
    // One prefix route per family: the pool is reached via the far side, so the
    // root neighbour table only ever holds the single far-side entry.
    root.push(`link set ${p.rootLink} up`, `route add ${p.block4} via ${p.hostAddr4} dev ${p.rootLink}`, ...GUARD_ROUTES_V4);
    if (this.ipv6) root.push(`route add ${p.block6} via ${p.hostAddr6} dev ${p.rootLink}`, ...GUARD_ROUTES_V6);
    await run('ip', ['-n', this.ns, '-batch', '-'], { input: `${far.join('\n')}\n` });
    await run('ip', ['-batch', '-'], { input: `${root.join('\n')}\n` });
    if (this.ipv6) await this.waitNotTentative();
  }

  /** With accept_dad=0 and nodad this passes at once; it guards against kernels that ignore either. */
  private async waitNotTentative(): Promise<void> {
    const deadline = Date.now() + 3000;
    for (;;) {
      const [root, far] = await Promise.all([
        run('ip', ['-6', 'addr', 'show', 'dev', this.rootLink, 'tentative']),
        run('ip', ['-n', this.ns, '-6', 'addr', 'show', 'dev', FAR_LINK, 'tentative']),
      ]);
      if (root.stdout.trim() === '' && far.stdout.trim() === '') return;
      if (Date.now() > deadline) throw new Error(`IPv6 addresses in ${this.ns} still tentative after 3 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Adds `n` more addresses (/32 or /128) on a pool interface inside the far
   * namespace and returns them. They are reachable from the root namespace
   * through the block route, never on-link.
   */
  async addAddresses(n: number, family: 4 | 6 = 4): Promise<string[]> {
    this.requireLive();
    if (family === 6) this.requireV6();
    const next = family === 4 ? this.pool4Next : this.pool6Next;
    const capacity = family === 4 ? POOL4_CAPACITY : POOL6_CAPACITY;
    if (!Number.isInteger(n) || n < 0 || next + n > capacity) {
      throw new RangeError(`cannot add ${n} IPv${family} addresses: ${next} of ${capacity} already used`);
    }
    if (n === 0) return [];
    const addrs: string[] = [];
    for (let i = next; i < next + n; i++) addrs.push(family === 4 ? poolAddr4(this.plan.slot, i) : poolAddr6(this.plan.slot, i));
    await ensurePoolLink(this.ns);
    const suffix = family === 4 ? `/32 dev ${POOL_LINK}` : `/128 dev ${POOL_LINK} nodad`;
    const input = `${addrs.map((a) => `addr add ${a}${suffix}`).join('\n')}\n`;
    await run('ip', ['-n', this.ns, '-batch', '-'], { input, timeoutMs: 120_000 });
    if (family === 4) this.pool4Next += n;
    else this.pool6Next += n;
    return addrs;
  }

  /** A fresh prefix inside this instance's block (IPv4 /24, IPv6 /64) for addUnreachable(). */
  spareCidr(family: 4 | 6 = 4): string {
    if (family === 6) this.requireV6();
    return family === 4 ? spareCidr4(this.plan.slot, this.spare4Next++) : spareCidr6(this.plan.slot, this.spare6Next++);
  }

  /** Drops `pct` percent (0..100, fractions allowed) of echo replies leaving the far host; 0 removes the rule. */
  async setLoss(pct: number): Promise<void> {
    this.requireLive();
    await run('nft', ['-f', '-'], { ns: this.ns, input: lossScript(pct) });
  }

  /** A silent host: incoming echo requests are dropped before the kernel or a responder sees them. */
  async dropEchoRequests(on: boolean): Promise<void> {
    this.requireLive();
    await run('nft', ['-f', '-'], { ns: this.ns, input: silentScript(on) });
  }

  /** Stops the far kernel from answering pings itself, so a responder program can. */
  async ignoreEcho(on: boolean): Promise<void> {
    const v = on ? 1 : 0;
    await this.sysctl({ 'net.ipv4.icmp_echo_ignore_all': v, 'net.ipv6.icmp.echo_ignore_all': v });
  }

  async sysctl(settings: Record<string, string | number>): Promise<void> {
    this.requireLive();
    const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
    await run('sysctl', ['-q', '-w', ...args], { ns: this.ns });
  }

  /**
   * Packets to `cidr` get ICMP destination unreachable from the far host
   * (`net`: v4 code 0 / v6 "no route"; `host`: v4 code 1 / v6 "address unreachable").
   * `cidr` must lie inside block4/block6 (see spareCidr()), which is already routed here.
   */
  async addUnreachable(cidr: string, kind: 'net' | 'host' = 'net'): Promise<void> {
    await this.addReject(cidr, kind);
  }

  /** Packets to `cidr` get "communication administratively prohibited" (v4 code 13, v6 code 1). */
  async addAdminProhibited(cidr: string): Promise<void> {
    await this.addReject(cidr, 'admin');
  }

  private async addReject(cidr: string, kind: UnreachableKind): Promise<void> {
    this.requireLive();
    const block = parseCidr(cidr).family === 4 ? this.block4 : this.block6;
    if (!cidrContains(block, cidr)) {
      throw new Error(`${cidr} is not inside ${block} of ${this.ns}; use spareCidr() or a sub-prefix of the block`);
    }
    await run('nft', ['-f', '-'], { ns: this.ns, input: rejectScript(cidr, kind) });
  }

  exec(cmd: string, args: readonly string[], opts: Omit<RunOptions, 'ns'> = {}): Promise<RunResult> {
    return run(cmd, args, { ...opts, ns: this.ns });
  }

  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    return spawnIn(this.ns, cmd, args, opts);
  }

  /** Kills processes inside, removes namespace, veth and routes. Safe to call repeatedly. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      await removeNamespace(this.ns, this.rootLink);
      live.delete(this);
      heldSlots.delete(this.plan.slot);
      await removeGuardIfUnused();
    })();
    return this.destroying;
  }
}
