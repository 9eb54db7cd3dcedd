import type { AddressFamily, ProbeError } from '../../core/result.js';
import { addressKey, formatAddress } from './address.js';
import type { ChannelFactory, IcmpChannel, RxInfo, TxStamp } from './channel.js';
import type { EchoJob, EchoOutcome, EngineCounters } from './engine-protocol.js';
import { MinHeap } from './heap.js';
import { buildEcho, COOKIE_BYTES, describeIcmpError, MIN_PAYLOAD, parseIcmp4, parseIcmp6, type Parsed } from './packet.js';

// The timing path. It owns the raw sockets (one per family), paces sends from one event
// heap, and matches replies by identifier, source, sequence, cookie and serial. It runs
// alone in a child process so that nothing else can delay its timestamps.

type Status = 'pending' | 'replied' | 'timedout' | 'late' | 'error' | 'senderror';

interface Packet {
  seq: number;
  serial: number;
  tx: TxStamp;
  status: Status;
  rttUs: number | null;
}

interface Job {
  spec: EchoJob;
  key: string;
  startNs: bigint;
  timeoutNs: bigint;
  packets: Packet[];
  unresolved: number;
  duplicates: number;
  late: number;
  ttl: number | null;
  errors: Map<string, ProbeError>;
  done: boolean;
}

interface Event {
  due: bigint;
  send: boolean;
  job: Job;
  index: number;
}

export interface EngineDeps {
  openChannel: ChannelFactory;
  identifier: number;
  cookie: Buffer;
  onOutcome(outcome: EchoOutcome): void;
  onFatal(err: Error): void;
}

const NO_STAMP: TxStamp = { hrNs: 0n, sec: 0, nsec: 0 };

export class IcmpEngine {
  private readonly channels = new Map<AddressFamily, IcmpChannel | Error>();
  private readonly inflight = new Map<string, { job: Job; index: number }>();
  private readonly seqs = new Map<string, number>();
  private readonly events = new MinHeap<Event>();
  private readonly jobs = new Set<Job>();
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0n;
  private serial = 0;
  readonly counters: EngineCounters = { sent: 0, matched: 0, foreign: 0, stray: 0, ignored: 0, bad_checksum: 0, kernel_stamps: 0, user_stamps: 0 };

  constructor(private readonly deps: EngineDeps) {}

  /** Opens (once) the socket of a family; throws PrivilegeError without CAP_NET_RAW. */
  channel(family: AddressFamily): IcmpChannel | Error {
    let ch = this.channels.get(family);
    if (ch) return ch;
    const parse = family === 4 ? parseIcmp4 : parseIcmp6;
    try {
      ch = this.deps.openChannel(family, (pkt, source, rx) => this.onPacket(family, parse(pkt), source, rx), this.deps.onFatal);
    } catch (err) {
      if (family === 4 || (err as Error).name === 'PrivilegeError') throw err;
      ch = err as Error; // no IPv6 here: every IPv6 send will report it
    }
    this.channels.set(family, ch);
    return ch;
  }

  submit(specs: readonly EchoJob[]): void {
    const now = process.hrtime.bigint();
    for (const spec of specs) {
      const key = addressKey(spec.address) ?? spec.address;
      const job: Job = {
        spec, key, startNs: now + BigInt(Math.round(spec.offset_ms * 1e6)), timeoutNs: BigInt(Math.round(spec.timeout_ms * 1e6)),
        packets: [], unresolved: spec.count, duplicates: 0, late: 0, ttl: null, errors: new Map(), done: false,
      };
      this.jobs.add(job);
      this.events.push({ due: job.startNs, send: true, job, index: 0 });
    }
    this.arm();
  }

  /** Ends every job now with what it has; unanswered packets count as lost. */
  flush(): void {
    for (const job of [...this.jobs]) this.finish(job);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    this.events.clear();
    for (const ch of this.channels.values()) if (!(ch instanceof Error)) ch.close();
    this.channels.clear();
  }

  private arm(): void {
    const next = this.events.peek();
    if (!next) return;
    if (this.timer && this.timerDue <= next.due) return;
    if (this.timer) clearTimeout(this.timer);
    const waitMs = Number(next.due - process.hrtime.bigint()) / 1e6;
    this.timerDue = next.due;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.floor(waitMs)));
  }

  private onTimer(): void {
    this.timer = null;
    for (let ev = this.events.peek(); ev && ev.due <= process.hrtime.bigint(); ev = this.events.peek()) {
      this.events.pop();
      if (ev.job.done) continue;
      if (ev.send) this.send(ev.job, ev.index);
      else if (ev.job.packets[ev.index]?.status === 'pending') this.resolve(ev.job, ev.job.packets[ev.index]!, 'timedout');
    }
    this.arm();
  }

  private nextSeq(key: string): number {
    const seq = ((this.seqs.get(key) ?? 0) + 1) & 0xffff;
    this.seqs.set(key, seq);
    return seq;
  }

  private send(job: Job, index: number): void {
    const { spec } = job;
    if (index + 1 < spec.count) {
      this.events.push({ due: job.startNs + BigInt(Math.round((index + 1) * spec.interval_ms * 1e6)), send: true, job, index: index + 1 });
    }
    const packet: Packet = { seq: this.nextSeq(job.key), serial: ++this.serial, tx: NO_STAMP, status: 'pending', rttUs: null };
    job.packets.push(packet);
    const pkt = buildEcho(spec.family, this.deps.identifier, packet.seq, this.deps.cookie, packet.serial, spec.size);
    let ch: IcmpChannel | Error;
    try {
      ch = this.channel(spec.family);
      if (ch instanceof Error) throw ch;
      const flightKey = `${job.key}/${packet.seq}`;
      this.inflight.set(flightKey, { job, index });
      packet.tx = ch.send(pkt, spec.address);
    } catch (err) {
      this.inflight.delete(`${job.key}/${packet.seq}`);
      const e = err as Error & { code?: string };
      this.addError(job, { kind: 'send', code: e.code, message: e.message, count: 1 });
      this.resolve(job, packet, 'senderror');
      return;
    }
    this.counters.sent++;
    this.events.push({ due: packet.tx.hrNs + job.timeoutNs, send: false, job, index });
  }

  private onPacket(family: AddressFamily, parsed: Parsed, source: Buffer, rx: RxInfo): void {
    if (parsed.kind === 'ignore') {
      if (parsed.reason === 'checksum') this.counters.bad_checksum++;
      else this.counters.ignored++;
      return;
    }
    const { echo } = parsed;
    const payload = echo.payload;
    if (echo.id !== this.deps.identifier || (payload.length >= COOKIE_BYTES && !payload.subarray(0, COOKIE_BYTES).equals(this.deps.cookie))) {
      this.counters.foreign++;
      return;
    }
    const key = parsed.kind === 'reply' ? source.toString('hex') : addressKey(parsed.target);
    const entry = key === null ? undefined : this.inflight.get(`${key}/${echo.seq}`);
    const packet = entry?.job.packets[entry.index];
    if (!entry || !packet || (payload.length >= MIN_PAYLOAD && payload.readDoubleBE(COOKIE_BYTES) !== packet.serial)) {
      this.counters.stray++;
      return;
    }
    this.counters.matched++;
    const { job } = entry;
    if (parsed.kind === 'error') {
      const message = describeIcmpError(family, parsed.type, parsed.code);
      this.addError(job, { kind: 'icmp', type: parsed.type, code: parsed.code, from: formatAddress(source), message, count: 1 });
      if (packet.status === 'pending') this.resolve(job, packet, 'error');
      return;
    }
    const rttNs = this.rtt(packet.tx, rx);
    switch (packet.status) {
      case 'pending':
      case 'error':
        if (rttNs > Number(job.timeoutNs)) {
          job.late++;
          this.resolve(job, packet, 'late');
          return;
        }
        packet.rttUs = Math.round(rttNs / 1000);
        if (job.ttl === null) job.ttl = parsed.ttl ?? (rx.hop >= 0 ? rx.hop : null);
        this.resolve(job, packet, 'replied');
        return;
      case 'timedout':
        job.late++;
        packet.status = 'late';
        return;
      default:
        job.duplicates++;
    }
  }

  /**
   * The kernel's receive stamp minus the send stamp when both are on CLOCK_REALTIME and
   * consistent; the monotonic user-space RTT otherwise (no kernel stamp, or the wall clock
   * stepped in between: then the kernel figure is negative or exceeds the user one).
   */
  private rtt(tx: TxStamp, rx: RxInfo): number {
    const user = Number(rx.hrNs - tx.hrNs);
    if (rx.sec >= 0) {
      const kernel = (rx.sec - tx.sec) * 1e9 + (rx.nsec - tx.nsec);
      if (kernel >= 0 && kernel <= user) {
        this.counters.kernel_stamps++;
        return kernel;
      }
    }
    this.counters.user_stamps++;
    return user;
  }

  private addError(job: Job, err: ProbeError): void {
    const k = `${err.kind}/${err.type}/${err.code}/${err.from}/${err.message}`;
    const seen = job.errors.get(k);
    if (seen) seen.count++;
    else job.errors.set(k, err);
  }

  private resolve(job: Job, packet: Packet, status: Status): void {
    // An ICMP error was already counted as resolved; a later in-time reply only upgrades it.
    if (packet.status === 'pending') job.unresolved--;
    packet.status = status;
    if (job.unresolved === 0 && job.packets.length === job.spec.count) this.finish(job);
  }

  private finish(job: Job): void {
    if (job.done) return;
    job.done = true;
    this.jobs.delete(job);
    for (const p of job.packets) {
      const k = `${job.key}/${p.seq}`;
      if (this.inflight.get(k)?.job === job) this.inflight.delete(k);
    }
    if (this.seqs.size > 65536) this.seqs.clear();
    this.deps.onOutcome({
      id: job.spec.id,
      sent: job.packets.length,
      rtts_us: job.packets.map((p) => (p.status === 'replied' ? p.rttUs : null)),
      duplicates: job.duplicates,
      late: job.late,
      ttl: job.ttl,
      errors: [...job.errors.values()].map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined)) as ProbeError),
    });
  }
}
