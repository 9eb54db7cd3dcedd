import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { ConnectionLostError } from './errors.js';

export type OpenResult =
  | { ok: true; session: Session }
  | { ok: false; reason: string; authRefused: boolean };

interface Pending {
  resolve(): void;
  reject(err: Error): void;
}

// MQTT 3.1.1 CONNACK return codes, and the MQTT 5 reason codes that mean the same.
const REFUSALS: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
};
const AUTH_CODES = new Set([4, 5, 0x86, 0x87]);

/**
 * One MQTT connection, start to end: a fresh mqtt.js client that never reconnects or
 * queues by itself (the transport's loop and the outbox do that). Every publish is tracked
 * here so that a lost connection rejects all of them, whatever mqtt.js keeps internally.
 */
export class Session {
  /** Resolves with the reason once the connection is gone (never rejects). */
  readonly closed: Promise<string>;
  private readonly pending = new Set<Pending>();
  private isClosed = false;
  private lastError: string | null = null;
  private idle: (() => void)[] = [];

  private constructor(private readonly client: MqttClient, onMessage: (topic: string, payload: Buffer) => void) {
    client.on('message', (topic, payload) => onMessage(topic, payload));
    client.on('error', (err) => void (this.lastError = describeError(err)));
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        const reason = this.lastError ?? 'connection closed by the broker';
        this.isClosed = true;
        this.failAll(reason);
        resolve(reason);
        // Let mqtt.js drop what it still holds for a resend we will never do.
        client.end(true);
      });
    });
  }

  /** Connects once; resolves when the broker accepted (CONNACK 0) or the attempt failed. */
  static open(options: IClientOptions, timeoutMs: number, onMessage: (topic: string, payload: Buffer) => void, signal?: AbortSignal): Promise<OpenResult> {
    const client = connect({
      ...options,
      clean: true,
      reconnectPeriod: 0,
      // Our own timer below ends the attempt; mqtt.js's is only a backstop.
      connectTimeout: timeoutMs * 2,
      queueQoSZero: false,
      resubscribe: false,
    });
    // mqtt.js emits 'error' (for stream errors) even after we are done with a client; an
    // 'error' without a listener would throw and take the agent down.
    client.on('error', () => undefined);
    return new Promise((resolve) => {
      let error: (Error & { code?: unknown }) | null = null;
      const onError = (err: Error): void => void (error = err);
      const done = (r: OpenResult): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        client.off('error', onError);
        client.off('close', onClose);
        client.off('connect', onConnect);
        resolve(r);
      };
      const onConnect = (): void => done({ ok: true, session: new Session(client, onMessage) });
      const onClose = (): void => {
        const code = typeof error?.code === 'number' ? error.code : null;
        const reason = code !== null && REFUSALS[code] ? `connection refused: ${REFUSALS[code]}` : error ? describeError(error) : 'connection closed before CONNACK';
        client.end(true);
        done({ ok: false, reason, authRefused: code !== null && AUTH_CODES.has(code) });
      };
      const timer = setTimeout(() => {
        client.end(true);
        done({ ok: false, reason: `no CONNACK within ${timeoutMs} ms`, authRefused: false });
      }, timeoutMs);
      const onAbort = (): void => {
        client.end(true);
        done({ ok: false, reason: 'aborted', authRefused: false });
      };
      signal?.addEventListener('abort', onAbort);
      client.on('error', onError);
      client.once('close', onClose);
      client.once('connect', onConnect);
    });
  }

  get inflight(): number {
    return this.pending.size;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** QoS 1; resolves on PUBACK, rejects with ConnectionLostError if the connection ends first. */
  publish(topic: string, payload: Buffer, retain = false): Promise<void> {
    if (this.isClosed) return Promise.reject(new ConnectionLostError('connection closed'));
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        resolve: () => this.settle(p) && resolve(),
        reject: (err) => this.settle(p) && reject(err),
      };
      this.pending.add(p);
      this.client.publish(topic, payload, { qos: 1, retain }, (err) => (err ? p.reject(new ConnectionLostError(`publish failed before PUBACK: ${err.message}`)) : p.resolve()));
    });
  }

  /** Resolves with the granted QoS per filter (128: refused). */
  async subscribe(filters: readonly string[], timeoutMs: number): Promise<number[]> {
    const request = this.client.subscribeAsync(Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }]))).then(
      (granted) => granted.map((g) => g.qos),
      (err: Error & { packet?: { granted?: unknown } }) => {
        // mqtt.js rejects a SUBACK that refuses any filter; the others still hold.
        const granted = err.packet?.granted;
        if (Array.isArray(granted)) return granted.map((g: unknown) => (typeof g === 'number' ? g : 128));
        throw err;
      },
    );
    return withTimeout(request, timeoutMs, 'no SUBACK');
  }

  /** Waits until nothing is in flight, or the time is up; true when drained. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return true;
    const drained = new Promise<boolean>((resolve) => this.idle.push(() => resolve(true)));
    return withTimeout(drained, timeoutMs, '').catch(() => false);
  }

  /** Graceful sends DISCONNECT (so the broker discards the will); either way done within timeoutMs. */
  async end(graceful: boolean, timeoutMs: number): Promise<void> {
    if (this.isClosed || !graceful) {
      this.destroy();
      return;
    }
    const deadline = Date.now() + timeoutMs;
    // mqtt.js sends DISCONNECT only once nothing is in flight; past the deadline, cut.
    const ended = new Promise<void>((resolve) => this.client.end(false, () => resolve()));
    await withTimeout(ended, timeoutMs, '').catch(() => this.destroy());
    await withTimeout(this.closed, Math.max(50, deadline - Date.now()), '').catch(() => this.destroy());
  }

  /** Cuts the connection without DISCONNECT (the broker publishes the will). */
  destroy(): void {
    // end(true) is a no-op once a graceful end() has begun, so cut the socket directly too.
    this.client.stream?.destroy();
    this.client.end(true);
  }

  private settle(p: Pending): boolean {
    if (!this.pending.delete(p)) return false;
    if (this.pending.size === 0) for (const wake of this.idle.splice(0)) wake();
    return true;
  }

  private failAll(reason: string): void {
    for (const p of [...this.pending]) p.reject(new ConnectionLostError(`connection lost before PUBACK: ${reason}`));
  }
}

/** One line: OpenSSL's messages carry the whole error stack, its `reason` is the useful part. */
function describeError(err: Error & { reason?: unknown }): string {
  if (typeof err.reason === 'string' && err.reason !== '') return `TLS: ${err.reason}`;
  return err.message.split('\n')[0]!.trim();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
