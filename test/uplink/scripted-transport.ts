// A transport whose PUBACKs the test hands out one by one (drainer-window and drainer-acks tests).
import assert from 'node:assert/strict';
import type { Transport, TransportEvents } from '../../agent/core/uplink.js';
import { ConnectionLostError } from '../../agent/uplink/errors.js';
import type { Telemetry } from './records.js';

interface Pending {
  seqs: number[];
  resolve(): void;
  reject(err: Error): void;
}

export class ScriptedTransport implements Transport {
  connected = true;
  readonly maxEventBytes = 256 * 1024;
  readonly pending: Pending[] = [];
  readonly sent: number[][] = [];
  private readonly listeners = new Map<keyof TransportEvents, Set<() => void>>();
  start(): void {}
  async stop(): Promise<void> {}
  publishEvent(payload: Buffer): Promise<void> {
    const seqs = (JSON.parse(payload.toString()) as Telemetry).results.map((r) => r.seq);
    this.sent.push(seqs);
    return new Promise((resolve, reject) => this.pending.push({ seqs, resolve, reject }));
  }
  async publishState(): Promise<void> {}
  on<E extends keyof TransportEvents>(e: E, l: TransportEvents[E]): void {
    if (!this.listeners.has(e)) this.listeners.set(e, new Set());
    this.listeners.get(e)!.add(l as () => void);
  }
  off<E extends keyof TransportEvents>(e: E, l: TransportEvents[E]): void {
    this.listeners.get(e)?.delete(l as () => void);
  }
  reconnect(): void {
    this.connected = true;
    for (const l of this.listeners.get('connected') ?? []) l();
  }
  /** Settles the in-flight message carrying `firstSeq`. */
  settle(firstSeq: number, ok: boolean): void {
    const i = this.pending.findIndex((p) => p.seqs[0] === firstSeq);
    assert.ok(i >= 0, `no message starting at ${firstSeq} in flight (${JSON.stringify(this.pending.map((p) => p.seqs))})`);
    const [p] = this.pending.splice(i, 1);
    if (ok) p!.resolve();
    else p!.reject(new ConnectionLostError('connection lost before PUBACK'));
  }
}
