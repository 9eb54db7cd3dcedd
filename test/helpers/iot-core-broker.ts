// A stand-in for ClearBlade/Cloud IoT Core's MQTT bridge: aedes over TLS that enforces the
// device protocol (client id format, username "unused", a JWT signed with the device's
// registered key, no retain, no will, clean sessions, only the device's own topics) and
// records what it saw for assertions.
import { Aedes, type AedesPublishPacket, type Client, type ConnectPacket } from 'aedes';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import type { TestCa } from './tls-fixtures.js';

export interface IotCoreBrokerOptions {
  pki: TestCa;
  project: string;
  region: string;
  registry: string;
  /** Device id -> registered public key PEM(s). */
  devices: Record<string, string | string[]>;
  /** The cloud's clock (ms since the epoch), for exp checks. */
  now?: () => number;
}

export interface ConnectRecord {
  clientId: string;
  deviceId: string | null;
  at: number;
  ok: boolean;
  reason: string | null;
  claims: { iat: number; exp: number; aud: string } | null;
  /** The bridge cut this connection because its JWT expired. */
  expiredWhileConnected?: boolean;
}

export interface DevicePublish {
  at: number;
  deviceId: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

type AuthError = Error & { returnCode: number };

function authError(message: string, returnCode = 4): AuthError {
  return Object.assign(new Error(message), { returnCode });
}

export class IotCoreBroker {
  readonly connects: ConnectRecord[] = [];
  readonly publishes: DevicePublish[] = [];
  /** Protocol violations the broker punished (retained publish, foreign topic, will, ...). */
  readonly violations: string[] = [];
  /** Subscriptions to refuse (SUBACK 0x80) even when allowed, to test partial refusals. */
  refuseTopics: RegExp | null = null;
  private readonly keys = new Map<string, KeyObject[]>();
  private readonly clients = new Map<string, Client>();
  private readonly connectPackets = new WeakMap<Client, ConnectPacket>();
  private readonly configs = new Map<string, Buffer>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly opts: IotCoreBrokerOptions,
    private readonly broker: Aedes,
    private readonly server: tls.Server,
  ) {
    for (const [id, pems] of Object.entries(opts.devices)) this.keys.set(id, [pems].flat().map((p) => createPublicKey(p)));
  }

  static async start(opts: IotCoreBrokerOptions): Promise<IotCoreBroker> {
    let self: IotCoreBroker | null = null;
    const broker = await Aedes.createBroker({
      preConnect: (client, packet, cb) => (self?.connectPackets.set(client, packet), cb(null, true)),
      authenticate: (client, username, password, done) => self!.authenticate(client, username, password, done),
      authorizePublish: (client, packet, cb) => cb(self!.authorizePublish(client, packet)),
      authorizeSubscribe: (client, sub, cb) => cb(null, self!.allowSubscribe(client, sub.topic) ? sub : null),
    });
    const server = tls.createServer({ cert: readFileSync(opts.pki.server.cert), key: readFileSync(opts.pki.server.key) }, (socket) => {
      self?.sockets.add(socket);
      socket.once('close', () => self?.sockets.delete(socket));
      broker.handle(socket);
    });
    self = new IotCoreBroker(opts, broker, server);
    broker.on('clientReady', (c) => self!.clients.set(c.id, c));
    broker.on('clientDisconnect', (c) => self!.clients.get(c.id) === c && self!.clients.delete(c.id));
    broker.on('publish', (packet, client) => client && self!.record(client, packet));
    broker.on('subscribe', (subs, client) => self!.sendLatestConfig(client, subs.map((s) => s.topic)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get host(): string {
    return '127.0.0.1';
  }

  clientIdFor(deviceId: string): string {
    const { project, region, registry } = this.opts;
    return `projects/${project}/locations/${region}/registries/${registry}/devices/${deviceId}`;
  }

  /** Sets the device's config; delivered now if it is subscribed, else on its next subscribe. */
  sendConfig(deviceId: string, payload: Buffer | string): Promise<void> {
    const body = Buffer.from(payload);
    this.configs.set(deviceId, body);
    return this.publishTo(`/devices/${deviceId}/config`, body);
  }

  sendCommand(deviceId: string, payload: Buffer | string, subfolder?: string): Promise<void> {
    return this.publishTo(`/devices/${deviceId}/commands${subfolder ? `/${subfolder}` : ''}`, Buffer.from(payload));
  }

  isConnected(deviceId: string): boolean {
    return this.clients.has(this.clientIdFor(deviceId));
  }

  /** Cuts every connection without a word (a crashed bridge, a NAT timeout). */
  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthError | null, ok: boolean | null) => void): void {
    const rec: ConnectRecord = { clientId: client.id, deviceId: null, at: Date.now(), ok: false, reason: null, claims: null };
    this.connects.push(rec);
    try {
      const m = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)\/devices\/([^/]+)$/.exec(client.id);
      if (!m || m[1] !== this.opts.project || m[2] !== this.opts.region || m[3] !== this.opts.registry) throw authError(`bad client id ${client.id}`, 2);
      const deviceId = m[4]!;
      rec.deviceId = deviceId;
      const keys = this.keys.get(deviceId);
      if (!keys) throw authError(`unknown device ${deviceId}`, 5);
      const packet = this.connectPackets.get(client);
      if (packet?.will) throw authError('last will not supported', 5);
      if (packet && !packet.clean) throw authError('persistent sessions not supported', 5);
      if (username !== 'unused') throw authError(`username must be "unused", got ${JSON.stringify(username)}`);
      const claims = this.verifyJwt(password?.toString() ?? '', keys);
      rec.claims = claims;
      rec.ok = true;
      // Like IoT Core: the connection ends when its token expires.
      const left = claims.exp * 1000 - (this.opts.now?.() ?? Date.now());
      const timer = setTimeout(() => {
        rec.expiredWhileConnected = true;
        client.conn.destroy();
      }, left);
      client.conn.once('close', () => clearTimeout(timer));
      done(null, true);
    } catch (err) {
      rec.reason = (err as Error).message;
      done(err as AuthError, false);
    }
  }

  private verifyJwt(token: string, keys: KeyObject[]): ConnectRecord['claims'] & object {
    const parts = token.split('.');
    if (parts.length !== 3) throw authError('password is not a JWT');
    const [h, b, s] = parts as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: unknown };
    if (header.alg !== 'ES256' && header.alg !== 'RS256') throw authError(`unsupported JWT alg ${String(header.alg)}`);
    const data = Buffer.from(`${h}.${b}`);
    const sig = Buffer.from(s, 'base64url');
    const ok = keys.some((key) => {
      const ec = key.asymmetricKeyType === 'ec';
      if (ec !== (header.alg === 'ES256')) return false;
      return ec ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', data, key, sig);
    });
    if (!ok) throw authError('JWT signature does not verify with any registered key');
    const claims = JSON.parse(Buffer.from(b, 'base64url').toString()) as { iat?: unknown; exp?: unknown; aud?: unknown };
    const { iat, exp, aud } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof aud !== 'string') throw authError('JWT lacks iat, exp or aud');
    const now = (this.opts.now?.() ?? Date.now()) / 1000;
    if (aud !== this.opts.project) throw authError(`JWT aud ${aud} is not the project`);
    if (exp <= now) throw authError('JWT expired');
    if (iat > now + 600) throw authError('JWT issued in the future');
    if (exp - iat > 86_400) throw authError('JWT lifetime exceeds 24 h');
    return { iat, exp, aud };
  }

  private deviceOf(client: Client | null): string | null {
    return client ? (/\/devices\/([^/]+)$/.exec(client.id)?.[1] ?? null) : null;
  }

  private authorizePublish(client: Client | null, packet: { topic: string; retain: boolean }): Error | null {
    const device = this.deviceOf(client);
    if (client === null) return null; // the broker's own publishes (config, commands)
    let problem: string | null = null;
    if (packet.retain) problem = `retained publish on ${packet.topic}`;
    else if (!(packet.topic === `/devices/${device}/state` || packet.topic === `/devices/${device}/events` || packet.topic.startsWith(`/devices/${device}/events/`))) problem = `publish to foreign topic ${packet.topic}`;
    if (problem === null) return null;
    this.violations.push(`${client.id}: ${problem}`);
    return new Error(problem);
  }

  private allowSubscribe(client: Client, topic: string): boolean {
    if (this.refuseTopics?.test(topic)) return false;
    const device = this.deviceOf(client);
    const ok = topic === `/devices/${device}/config` || topic === `/devices/${device}/commands/#` || topic.startsWith(`/devices/${device}/commands/`);
    if (!ok) this.violations.push(`${client.id}: subscribe to foreign topic ${topic}`);
    return ok;
  }

  private record(client: Client, packet: AedesPublishPacket): void {
    const deviceId = this.deviceOf(client);
    if (deviceId) this.publishes.push({ at: Date.now(), deviceId, topic: packet.topic, payload: Buffer.from(packet.payload), qos: packet.qos, retain: packet.retain });
  }

  private sendLatestConfig(client: Client, topics: string[]): void {
    const device = this.deviceOf(client);
    const config = device ? this.configs.get(device) : undefined;
    if (device && config && topics.includes(`/devices/${device}/config`)) void this.publishTo(`/devices/${device}/config`, config);
  }

  private publishTo(topic: string, payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())));
  }
}
