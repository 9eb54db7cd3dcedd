import { performance } from 'node:perf_hooks';
import type { UplinkConfig } from '../config/schema.js';
import type { ClockStatus } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Transport, TransportEvents } from '../core/uplink.js';
import { Backoff } from './backoff.js';
import { ConnectionLog } from './connection-log.js';
import { NotConnectedError, PayloadTooLargeError } from './errors.js';
import { Listeners } from './listeners.js';
import { iotCoreProfile } from './profile-iot-core.js';
import { mqttProfile } from './profile-mqtt.js';
import type { ConnectPlan, UplinkProfile } from './profile.js';
import { Session } from './session.js';
import { TokenBucket } from './token-bucket.js';

export interface TransportTiming {
  /** Reconnect backoff bounds (full jitter between 0 and a ceiling doubling from min to max). */
  backoffMinMs: number;
  backoffMaxMs: number;
  /** A connection that lasted this long resets the backoff. */
  stableMs: number;
  connectTimeoutMs: number;
  /** How often to look at the clock while waiting for NTP. */
  clockPollMs: number;
  /** Bound on waiting for in-flight publishes at stop and credential refresh. */
  drainTimeoutMs: number;
  /** Repeated connect failures are logged at most this often (the first one always). */
  failureLogEveryMs: number;
}

export const DEFAULT_TIMING: TransportTiming = {
  backoffMinMs: 1000,
  backoffMaxMs: 5 * 60_000,
  stableMs: 60_000,
  connectTimeoutMs: 30_000,
  clockPollMs: 5000,
  drainTimeoutMs: 5000,
  failureLogEveryMs: 5 * 60_000,
};

export interface TransportDeps {
  deviceId: string;
  logger: Logger;
  clock: ClockStatus;
  /** Wall clock, for JWT iat/exp. */
  now?: () => Date;
  /** Jitter source, uniform in [0, 1). */
  random?: () => number;
  timing?: Partial<TransportTiming>;
  /** Overrides jwt_ttl_minutes, so tests can watch a proactive refresh. */
  jwtTtlMs?: number;
}

export function createTransport(cfg: UplinkConfig, deps: TransportDeps): Transport {
  const profileDeps = deps.jwtTtlMs === undefined ? { deviceId: deps.deviceId } : { deviceId: deps.deviceId, jwtTtlMs: deps.jwtTtlMs };
  const profile = cfg.profile === 'iot-core' ? iotCoreProfile(cfg, profileDeps) : mqttProfile(cfg, profileDeps);
  return new MqttTransport(profile, cfg.keepalive_s, deps);
}

type ServeEnd = 'refresh' | 'closed' | 'stopped';
type AttemptEnd = { kind: ServeEnd | 'clock' } | { kind: 'failed'; reason: string };

/**
 * The connection loop: connect, serve until the connection ends, back off, repeat. It is
 * a loop (not reconnect-from-callback) so there is exactly one connection or attempt at a
 * time and stop() has one place to end it.
 */
export class MqttTransport implements Transport {
  readonly maxEventBytes: number;
  private readonly listeners: Listeners<TransportEvents>;
  private readonly timing: TransportTiming;
  private readonly backoff: Backoff;
  private readonly log: ConnectionLog;
  private readonly now: () => Date;
  private readonly publishBucket: TokenBucket | null;
  private readonly stateBucket: TokenBucket | null;
  /** Set only while connected and accepting publishes. */
  private session: Session | null = null;
  private loop: Promise<void> | null = null;
  private stopping = false;
  /** Ends the current sleep or connection early (stop). */
  private interrupt: (() => void) | null = null;

  constructor(
    private readonly profile: UplinkProfile,
    private readonly keepaliveS: number,
    private readonly deps: TransportDeps,
  ) {
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.maxEventBytes = profile.maxEventBytes;
    this.listeners = new Listeners(deps.logger);
    this.backoff = new Backoff({ minMs: this.timing.backoffMinMs, maxMs: this.timing.backoffMaxMs, random: deps.random ?? Math.random });
    this.log = new ConnectionLog(deps.logger, profile.endpoint, this.timing.failureLogEveryMs, () => performance.now());
    this.now = deps.now ?? (() => new Date());
    const mono = (): number => performance.now();
    this.publishBucket = profile.publishPerSecond === null ? null : new TokenBucket(profile.publishPerSecond, profile.publishPerSecond, mono);
    this.stateBucket = profile.statePerSecond === null ? null : new TokenBucket(profile.statePerSecond, 1, mono);
  }

  get connected(): boolean {
    return this.session !== null;
  }

  start(): void {
    if (this.loop || this.stopping) return;
    if (this.profile.insecure) this.deps.logger.warn(`uplink: TLS certificate verification is DISABLED for ${this.profile.endpoint} (insecure: true); anyone on the path can impersonate the broker`);
    this.loop = this.run().catch((err: unknown) => this.deps.logger.error(`uplink: connection loop failed: ${(err as Error).stack ?? String(err)}`));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.interrupt?.();
    await this.loop;
  }

  async publishEvent(payload: Buffer, subfolder?: string): Promise<void> {
    if (payload.length > this.maxEventBytes) throw new PayloadTooLargeError(`event of ${payload.length} bytes exceeds the broker limit of ${this.maxEventBytes}`);
    return this.publish(this.profile.topics.eventsFor(subfolder), payload, null);
  }

  async publishState(payload: Buffer): Promise<void> {
    return this.publish(this.profile.topics.state, payload, this.stateBucket);
  }

  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void {
    this.listeners.on(event, listener);
  }

  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void {
    this.listeners.off(event, listener);
  }

  private async publish(topic: string, payload: Buffer, extra: TokenBucket | null): Promise<void> {
    const session = this.session;
    // Never hand a publish to mqtt.js while offline: its queue is memory only.
    if (!session) throw new NotConnectedError();
    const wait = Math.max(this.publishBucket?.reserve() ?? 0, extra?.reserve() ?? 0);
    if (wait > 0) {
      await new Promise((r) => setTimeout(r, wait));
      if (this.session !== session) throw new NotConnectedError('uplink disconnected while waiting for the publish rate limit');
    }
    return session.publish(topic, payload);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.profile.needsSyncedClock && !this.deps.clock.synced()) {
        this.log.clockWait('the system clock is not synchronized');
        await this.sleep(this.timing.clockPollMs);
        continue;
      }
      this.log.clockReady();
      const end = await this.attempt();
      if (end.kind === 'refresh' || end.kind === 'clock' || this.stopping) continue;
      const delay = this.backoff.next();
      if (end.kind === 'failed') this.log.failed(end.reason, delay);
      else this.deps.logger.debug(`uplink: reconnecting in ${delay} ms`);
      await this.sleep(delay);
    }
  }

  /** One connection attempt, and serving the connection if it succeeds. */
  private async attempt(): Promise<AttemptEnd> {
    let plan: ConnectPlan;
    try {
      plan = this.profile.plan(this.now());
    } catch (err) {
      return { kind: 'failed', reason: (err as Error).message };
    }
    const abort = new AbortController();
    this.interrupt = () => abort.abort();
    const opened = await Session.open({ ...plan.options, keepalive: this.keepaliveS }, this.timing.connectTimeoutMs, (t, p) => this.onMessage(t, p), abort.signal);
    this.interrupt = null;
    if (!opened.ok) {
      // A JWT minted with a wrong clock is refused; NTP may have stepped the clock back out
      // of sync since we checked, so this is a wait, not a failure.
      if (opened.authRefused && this.profile.needsSyncedClock && !this.deps.clock.synced()) {
        this.log.clockWait(opened.reason);
        return { kind: 'clock' };
      }
      return this.stopping ? { kind: 'stopped' } : { kind: 'failed', reason: opened.reason };
    }
    const session = opened.session;
    if (this.stopping) {
      await session.end(true, this.timing.drainTimeoutMs);
      return { kind: 'stopped' };
    }
    const { config, commandsFilter } = this.profile.topics;
    try {
      const granted = await session.subscribe([config, commandsFilter], this.timing.connectTimeoutMs);
      granted.forEach((qos, i) => qos === 128 && this.deps.logger.warn(`uplink: broker refused the subscription to ${i === 0 ? config : commandsFilter}`));
    } catch (err) {
      session.destroy();
      return { kind: 'failed', reason: `subscribe failed: ${(err as Error).message}` };
    }
    return { kind: await this.serve(session, plan.refreshAfterMs) };
  }

  private async serve(session: Session, refreshAfterMs: number | null): Promise<ServeEnd> {
    const since = performance.now();
    this.session = session;
    this.log.connected(this.profile.clientId);
    if (this.profile.insecure) this.deps.logger.warn(`uplink: connected WITHOUT verifying the broker's TLS certificate (insecure: true)`);
    const status = this.profile.statusTopic;
    if (status) session.publish(status, Buffer.from('online'), true).catch((err: Error) => this.deps.logger.debug(`uplink: online status not acknowledged: ${err.message}`));
    this.listeners.emit('connected');

    let timer: NodeJS.Timeout | undefined;
    const end = await new Promise<{ why: 'refresh' | 'stopped' } | { why: 'closed'; reason: string }>((resolve) => {
      this.interrupt = () => resolve({ why: 'stopped' });
      if (this.stopping) resolve({ why: 'stopped' }); // stop() came while we subscribed
      if (refreshAfterMs !== null) timer = setTimeout(() => resolve({ why: 'refresh' }), refreshAfterMs);
      void session.closed.then((reason) => resolve({ why: 'closed', reason }));
    });
    clearTimeout(timer);
    this.interrupt = null;
    this.session = null;

    if (end.why === 'closed') {
      if (performance.now() - since >= this.timing.stableMs) this.backoff.reset();
      this.log.disconnected(end.reason);
      this.listeners.emit('disconnected', end.reason);
      return 'closed';
    }
    const refresh = end.why === 'refresh';
    this.deps.logger.info(refresh ? 'uplink: reconnecting with a fresh JWT before the current one expires' : `uplink: disconnecting from ${this.profile.endpoint}`);
    this.listeners.emit('disconnected', refresh ? 'reconnecting with a fresh JWT before it expires' : 'stopped');
    // Publishes already sent get their PUBACK; new ones are refused meanwhile. One deadline
    // for the whole goodbye: a broker that stopped answering must not hold up shutdown.
    const deadline = performance.now() + this.timing.drainTimeoutMs;
    const left = (): number => Math.max(0, deadline - performance.now());
    await session.drain(left());
    if (!refresh && status) {
      // Written before DISCONNECT, so the broker applies it even if its PUBACK is late.
      session.publish(status, Buffer.from('offline'), true).catch(() => undefined);
      await session.drain(left());
    }
    await session.end(true, Math.max(200, left()));
    // The JWT refresh reconnects at once, a stable connection behind it.
    if (refresh) this.backoff.reset();
    return end.why;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const kind = this.profile.topics.controlKind(topic);
    if (kind === null) {
      this.deps.logger.debug(`uplink: ignoring message on unexpected topic ${topic}`);
      return;
    }
    this.listeners.emit('control', { kind, topic, payload });
  }

  /** Sleeps, unless stop() comes first. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = () => {
        this.interrupt = null;
        done();
      };
    });
  }
}
