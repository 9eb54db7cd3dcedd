import { lookup as dnsLookup } from 'node:dns/promises';
import type { AddressFamily, ProbeError } from '../core/result.js';
import { familyOf } from './icmp/address.js';

export type Resolution =
  | { ok: true; address: string; family: AddressFamily }
  | { ok: false; family: AddressFamily; error: ProbeError };

export type LookupFn = (host: string, options: { family: 0 | 4 | 6 }) => Promise<{ address: string; family: number }>;

/** Resolves a target each round; a failure is a value (it becomes the round's error), never a throw. */
export class Resolver {
  constructor(private readonly lookup: LookupFn = dnsLookup) {}

  async resolve(target: string, want: AddressFamily | null): Promise<Resolution> {
    const literal = familyOf(target);
    if (literal !== null) {
      if (want !== null && want !== literal) {
        return { ok: false, family: want, error: { kind: 'resolve', code: 'EAI_FAMILY', message: `${target} is not an IPv${want} address`, count: 1 } };
      }
      return { ok: true, address: target, family: literal };
    }
    try {
      const r = await this.lookup(target, { family: want ?? 0 });
      return { ok: true, address: r.address, family: r.family === 6 ? 6 : 4 };
    } catch (err) {
      const e = err as Error & { code?: string };
      const code = e.code ?? 'ERESOLVE';
      const message = code === 'ENOTFOUND' ? `${target}: Name or service not known` : `${target}: ${e.message}`;
      return { ok: false, family: want ?? 4, error: { kind: 'resolve', code, message, count: 1 } };
    }
  }
}
