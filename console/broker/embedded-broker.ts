import { Aedes, type Client, type PublishPacket } from 'aedes';
import { readFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { LimitedLog } from '../../agent/control/limited-log.js';
import type { Logger } from '../../agent/core/logger.js';
import type { DeviceAuthenticator } from '../auth/device-auth.js';
import type { ConsoleTopics } from '../topics.js';
import { deviceAcl, maySubscribe, publishProblem, type DeviceAcl } from './acl.js';
import { BusUnavailableError, type Bus, type BusHandlers, type BusStats } from './bus.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** Plain MQTT; 0 picks a free port, null: no plain listener. */
  port: number | null;
  tls: { port: number; certFile: string; keyFile: string } | null;
  topics: ConsoleTopics;
  auth: DeviceAuthenticator;
  logger: Logger;
}

interface Identity {
  device: string;
  acl: DeviceAcl;
}

type AuthDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/**
 * aedes inside the console: devices authenticate against the console's registry, every
 * publish and subscribe is checked against the device's ACL, and a device's message is
 * stored before the broker sends its PUBACK (the hook runs before aedes acknowledges).
 */
export class EmbeddedBroker implements Bus {
  private broker: Aedes | null = null;
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly identities = new WeakMap<Client, Identity>();
  /** The live connection of each device: a takeover's late disconnect must not mark it offline. */
  private readonly current = new Map<string, Client>();
  private readonly refusals: LimitedLog;
  private refusedConnects = 0;
  private refusedTopics = 0;

  constructor(private readonly opts: EmbeddedBrokerOptions) {
    this.refusals = new LimitedLog(opts.logger);
  }

  async start(handlers: BusHandlers): Promise<void> {
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => void this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => {
        if (client === null) return cb(null); // the console's own publishes
        const id = this.identities.get(client);
        const problem = id ? publishProblem(id.acl, packet.topic, packet.retain) : 'not authenticated';
        if (problem !== null) {
          this.refusedTopics++;
          this.refusals.warn(`broker: refused ${id?.device ?? client.id}: ${problem}`);
          return cb(new Error(problem)); // aedes closes the connection: MQTT 3.1.1 cannot say no to a publish
        }
        handlers.message({ topic: packet.topic, payload: Buffer.from(packet.payload), retain: packet.retain }).then(
          () => cb(null),
          (err: Error) => cb(err),
        );
      },
      authorizeSubscribe: (client, sub, cb) => {
        const id = this.identities.get(client);
        if (id && maySubscribe(id.acl, sub.topic)) return cb(null, sub);
        this.refusedTopics++;
        this.refusals.warn(`broker: refused ${id?.device ?? client.id}: subscribe to ${sub.topic} is not allowed`);
        cb(null, null); // SUBACK 0x80 for this filter
      },
    });
    broker.on('clientReady', (client) => {
      const id = this.identities.get(client);
      if (!id) return;
      this.current.set(id.device, client);
      handlers.presence(id.device, true);
    });
    broker.on('clientDisconnect', (client) => {
      const id = this.identities.get(client);
      if (!id || this.current.get(id.device) !== client) return;
      this.current.delete(id.device);
      handlers.presence(id.device, false);
    });
    this.broker = broker;
    const handle = (socket: net.Socket): void => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    };
    if (this.opts.port !== null) this.servers.push(await listen(net.createServer(handle), this.opts.host, this.opts.port));
    const t = this.opts.tls;
    if (t) this.servers.push(await listen(tls.createServer({ cert: readFileSync(t.certFile), key: readFileSync(t.keyFile) }, handle), this.opts.host, t.port));
    handlers.connected();
  }

  /** Ports actually bound, in the order plain, TLS (for port 0). */
  get ports(): { plain: number | null; tls: number | null } {
    const port = (s: net.Server | undefined): number | null => (s ? (s.address() as AddressInfo).port : null);
    const plain = this.opts.port === null ? null : port(this.servers[0]);
    const tlsPort = this.opts.tls ? port(this.servers[this.opts.port === null ? 0 : 1]) : null;
    return { plain, tls: tlsPort };
  }

  publish(topic: string, payload: Buffer, opts: { retain: boolean }): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.reject(new BusUnavailableError('broker not started'));
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos: 1, retain: opts.retain, dup: false };
    return new Promise((resolve, reject) => broker.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  stats(): BusStats {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    const { plain, tls: tlsPort } = this.ports;
    return {
      mode: 'embedded',
      endpoints: [...(plain === null ? [] : [`mqtt://${host}:${plain}`]), ...(tlsPort === null ? [] : [`mqtts://${host}:${tlsPort}`])],
      connected: this.broker !== null,
      deviceConnections: this.current.size,
      refusedConnects: this.refusedConnects,
      refusedTopics: this.refusedTopics,
    };
  }

  disconnect(device: string): boolean {
    const c = this.current.get(device);
    if (!c) return false;
    c.conn.destroy();
    return true;
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    this.broker = null;
    for (const s of this.sockets) s.destroy();
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: AuthDone): Promise<void> {
    let outcome;
    try {
      outcome = await this.opts.auth.authenticate(client.id, username, password);
    } catch (err) {
      this.opts.logger.error(`broker: authentication of ${client.id} failed: ${(err as Error).message}`);
      return done(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false);
    }
    if (!outcome.ok) {
      this.refusedConnects++;
      this.refusals.warn(`broker: refused connection of ${client.id}: ${outcome.reason}`);
      return done(Object.assign(new Error(outcome.reason), { returnCode: outcome.code }), false);
    }
    this.identities.set(client, { device: outcome.device, acl: deviceAcl(this.opts.topics, outcome.device) });
    if (outcome.expiresAt !== null) {
      // As IoT Core did: the connection ends when its token expires.
      const timer = setTimeout(() => client.conn.destroy(), Math.max(0, outcome.expiresAt - Date.now()));
      client.conn.once('close', () => clearTimeout(timer));
    }
    done(null, true);
  }
}

function listen(server: net.Server, host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
