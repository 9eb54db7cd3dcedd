import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../agent/core/logger.js';
import { Backoff } from '../../agent/uplink/backoff.js';
import type { ConsoleTopics } from '../topics.js';
import { BusUnavailableError, type Bus, type BusHandlers, type BusStats } from './bus.js';

export interface ExternalBusOptions {
  /** mqtt://host:port or mqtts://host:port; credentials separately. */
  url: string;
  username?: string;
  password?: string;
  caFile?: string;
  clientId: string;
  topics: ConsoleTopics;
  logger: Logger;
  random?: () => number;
  backoff?: { minMs: number; maxMs: number };
}

// OpenSSL's verification failures (Node puts them in err.code) and Node's own host check.
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
]);
const INVALID = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID']);

/** One line an operator can act on: an untrusted broker certificate names the fix. */
function describeError(err: Error, caFile: string | undefined): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (INVALID.has(code)) return `TLS: refusing the broker's certificate (${err.message})`;
  if (!UNTRUSTED.has(code)) return err.message;
  const against = caFile === undefined ? "the system's CAs (no external_broker.ca_file set)" : `the CA in ${caFile}`;
  return `TLS: refusing the broker's certificate (${err.message}): checked against ${against}; set external_broker.ca_file to the CA that signed it`;
}

/**
 * The console as a privileged client of Mosquitto, EMQX, ...: a persistent session (clean
 * false, fixed client id), so the broker keeps device messages while the console is down,
 * and each message acknowledged only after it is stored. Reconnects with capped, jittered
 * backoff from its own loop (mqtt.js' fixed-period reconnect would hammer a broker in step).
 */
export class ExternalBus implements Bus {
  private client: MqttClient | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly backoff: Backoff;

  constructor(private readonly opts: ExternalBusOptions) {
    const b = opts.backoff ?? { minMs: 1000, maxMs: 60_000 };
    this.backoff = new Backoff({ minMs: b.minMs, maxMs: b.maxMs, random: opts.random ?? Math.random });
  }

  /** Resolves after the first connection attempt, successful or not; the loop keeps trying. */
  async start(handlers: BusHandlers): Promise<void> {
    let first: () => void = () => undefined;
    const attempted = new Promise<void>((r) => (first = r));
    this.loop = this.run(handlers, () => first());
    await attempted;
  }

  publish(topic: string, payload: Buffer, opts: { retain: boolean }): Promise<void> {
    const c = this.client;
    if (!c?.connected) return Promise.reject(new BusUnavailableError(`not connected to ${this.endpoint()}`));
    return c.publishAsync(topic, payload, { qos: 1, retain: opts.retain }).then(() => undefined);
  }

  stats(): BusStats {
    return { mode: 'external', endpoints: [this.endpoint()], connected: this.client?.connected === true, deviceConnections: null, refusedConnects: 0, refusedTopics: 0 };
  }

  disconnect(): boolean {
    return false; // the external broker's own business (its password file no longer has the device)
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.client?.endAsync(false).catch(() => undefined);
    await this.loop;
  }

  private endpoint(): string {
    const u = new URL(this.opts.url);
    return `${u.protocol}//${u.host}`;
  }

  private async run(handlers: BusHandlers, attempted: () => void): Promise<void> {
    while (!this.stopping) {
      const since = Date.now();
      const reason = await this.session(handlers, attempted);
      attempted();
      if (this.stopping) break;
      if (Date.now() - since > 60_000) this.backoff.reset();
      const delay = this.backoff.next();
      this.opts.logger.warn(`bus: ${reason}; reconnecting to ${this.endpoint()} in ${delay} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => (clearTimeout(t), resolve());
      });
      this.wake = null;
    }
  }

  /** One connection, until it ends; returns why it ended. */
  private session(handlers: BusHandlers, attempted: () => void): Promise<string> {
    const o = this.opts;
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      protocolVersion: 4,
      queueQoSZero: false,
    };
    if (o.username !== undefined) options.username = o.username;
    if (o.password !== undefined) options.password = o.password;
    try {
      if (o.caFile !== undefined) options.ca = readFileSync(o.caFile);
    } catch (err) {
      return Promise.resolve(`cannot read ca_file ${o.caFile}: ${(err as Error).message}`);
    }
    const client = mqtt.connect(o.url, options);
    this.client = client;
    // Set before the first packet: a persistent session's backlog arrives right after CONNACK.
    client.handleMessage = (packet, callback) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload);
      handlers.message({ topic: packet.topic, payload, retain: packet.retain }).then(
        () => callback(),
        (err: Error) => {
          // Not acknowledged: drop the connection so the broker sends it again later.
          o.logger.error(`bus: cannot store a message on ${packet.topic}: ${err.message}`);
          client.end(true);
        },
      );
    };
    return new Promise<string>((resolve) => {
      let lastError = 'connection closed';
      client.on('error', (err) => (lastError = describeError(err, o.caFile)));
      client.once('close', () => {
        if (this.client === client) this.client = null;
        resolve(lastError);
      });
      client.once('connect', () => {
        client.subscribeAsync(Object.fromEntries(o.topics.filters.map((f) => [f, { qos: 1 as const }]))).then(
          (granted) => {
            const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
            if (refused.length > 0) o.logger.error(`bus: the broker refused the console's subscription to ${refused.join(', ')} (check its ACL)`);
            o.logger.info(`bus: connected to ${this.endpoint()} as ${o.clientId}`);
            attempted();
            handlers.connected();
          },
          (err: Error) => {
            lastError = `subscribe failed: ${err.message}`;
            client.end(true);
          },
        );
      });
    });
  }
}
