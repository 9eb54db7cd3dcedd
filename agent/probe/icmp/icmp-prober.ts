import { PrivilegeError, type IcmpProbeSpec, type Prober } from '../../core/probe.js';
import type { ProbeError, ProbeResult } from '../../core/result.js';
import type { Resolution, Resolver } from '../resolve.js';
import type { EchoJob, EchoOutcome } from './engine-protocol.js';
import { lossPct, rttStats } from './stats.js';

export interface EchoRunner {
  run(jobs: readonly Omit<EchoJob, 'id'>[]): Promise<EchoOutcome[]>;
  flush(): void;
  close(): Promise<void>;
}

/** ICMP echo rounds: resolve every target, pace all of them through the engine, build records. */
export class IcmpProber implements Prober {
  constructor(
    private readonly engine: EchoRunner,
    private readonly resolver: Resolver,
  ) {}

  async runRound(specs: readonly IcmpProbeSpec[], roundStart: Date): Promise<ProbeResult[]> {
    const resolutions = await Promise.all(specs.map(async (s) => guarded(s, await this.resolver.resolve(s.target, s.family))));
    const jobs: Omit<EchoJob, 'id'>[] = [];
    const jobOf: (number | null)[] = [];
    const n = specs.length;
    specs.forEach((spec, k) => {
      const r = resolutions[k]!;
      if (!r.ok) return jobOf.push(null);
      jobOf.push(jobs.length);
      // Spread the targets' first packets evenly across one packet interval: no burst.
      jobs.push({
        address: r.address, family: r.family, count: spec.count, size: spec.size,
        interval_ms: spec.interval_ms, timeout_ms: spec.timeout_ms, offset_ms: (k * spec.interval_ms) / n,
      });
    });
    let outcomes: EchoOutcome[] = [];
    let engineError: ProbeError | null = null;
    if (jobs.length > 0) {
      try {
        outcomes = await this.engine.run(jobs);
      } catch (err) {
        if (err instanceof PrivilegeError) throw err;
        engineError = { kind: 'send', code: 'EENGINE', message: (err as Error).message, count: 1 };
      }
    }
    return specs.map((spec, k) => {
      const j = jobOf[k];
      return buildRecord(spec, roundStart, resolutions[k]!, j == null ? null : (outcomes[j] ?? null), engineError);
    });
  }

  flush(): void {
    this.engine.flush();
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}

/** A resolved address the spec's guard refuses becomes a resolve error: nothing is sent to it. */
function guarded(spec: IcmpProbeSpec, res: Resolution): Resolution {
  if (!res.ok || spec.guard === undefined) return res;
  let why: string | null;
  try {
    why = spec.guard(res.address, res.family);
  } catch (err) {
    // A guard that cannot decide refuses: sending is the irreversible side.
    why = `address check failed: ${(err as Error).message}`;
  }
  if (why === null) return res;
  const shown = spec.target === res.address ? spec.target : `${spec.target} (${res.address})`;
  return { ok: false, family: res.family, error: { kind: 'resolve', code: 'EPOLICY', message: `${shown}: refused by the safety policy: ${why}`, count: 1 } };
}

export function buildRecord(spec: IcmpProbeSpec, roundStart: Date, res: Resolution, outcome: EchoOutcome | null, engineError: ProbeError | null = null): ProbeResult {
  const rtts = outcome?.rtts_us ?? [];
  const received = rtts.filter((r) => r !== null).length;
  const sent = outcome?.sent ?? 0;
  const errors: ProbeError[] = [...(outcome?.errors ?? [])];
  if (!res.ok) errors.push(res.error);
  if (res.ok && !outcome && engineError) errors.push(engineError);
  return {
    schema: 1,
    type: 'icmp',
    name: spec.name,
    target: spec.target,
    address: res.ok ? res.address : null,
    family: res.family,
    ts: roundStart.toISOString(),
    size: spec.size,
    sent,
    received,
    duplicates: outcome?.duplicates ?? 0,
    late: outcome?.late ?? 0,
    loss_pct: lossPct(sent, received),
    ...rttStats(rtts),
    rtts_ms: rtts.map((r) => (r === null ? null : r / 1000)),
    ttl: outcome?.ttl ?? null,
    errors,
  };
}
