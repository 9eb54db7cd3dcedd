import type { OperationalConfig } from '../config/schema.js';
import type { ClockStatus } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Timers } from '../schedule/scheduler.js';
import { type Health, HealthMonitor } from './health.js';
import type { WatchedOutbox } from './outbox-watch.js';
import { type NotifySend, SdNotifier, type ServiceNotifier, watchdogUsec } from './sd-notify.js';
import { formatStatus, type StatusFacts } from './status-line.js';
import { Watchdog } from './watchdog.js';

/** The uplink as far as the status line cares (Transport). */
export interface UplinkView {
  readonly connected: boolean;
  on(event: 'connected' | 'disconnected', listener: () => void): void;
  off(event: 'connected' | 'disconnected', listener: () => void): void;
}

export interface SupervisorDeps {
  notifier: ServiceNotifier;
  /** WATCHDOG_USEC for this process, or null: no pings. */
  watchdogUsec: number | null;
  health: { check(): Health };
  facts: () => Omit<StatusFacts, 'health'>;
  /** Connects and disconnects update the status at once. */
  uplink: UplinkView | null;
  logger: Logger;
  timers: Timers;
  /** How often the status line is recomputed (it is sent only when it changed). */
  statusEveryMs?: number;
}

/** Timers that never keep the process alive on their own: the stop sequence decides when it ends. */
export const unrefTimers: Timers = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/**
 * The agent as a Type=notify service: READY=1 once it probes and stores, STATUS= lines a
 * person can read, WATCHDOG=1 while healthy, STOPPING=1 at the start of a graceful stop.
 * Without $NOTIFY_SOCKET nothing runs at all.
 */
export class ServiceSupervisor {
  private readonly watchdog: Watchdog | null;
  private readonly statusEveryMs: number;
  private statusTimer: { cancel(): void } | null = null;
  private lastLine: string | null = null;
  private lastHealth: Health = { healthy: true, reason: null };
  private state: 'idle' | 'running' | 'stopping' | 'closed' = 'idle';
  private readonly onUplink = (): void => this.refresh();

  constructor(private readonly deps: SupervisorDeps) {
    this.statusEveryMs = deps.statusEveryMs ?? 5000;
    this.watchdog = deps.notifier.enabled && deps.watchdogUsec !== null
      ? new Watchdog({ notifier: deps.notifier, usec: deps.watchdogUsec, health: () => this.checkHealth(), timers: deps.timers })
      : null;
  }

  /** Call once the outbox is open and the probe engine runs; the broker is not waited for. */
  ready(): void {
    if (!this.deps.notifier.enabled || this.state !== 'idle') return;
    this.state = 'running';
    this.lastLine = this.line(this.checkHealth());
    this.deps.notifier.ready(this.lastLine);
    this.deps.uplink?.on('connected', this.onUplink);
    this.deps.uplink?.on('disconnected', this.onUplink);
    this.scheduleStatus();
    this.watchdog?.start();
    const wd = this.watchdog ? `; watchdog ping every ${this.watchdog.periodMs / 1000} s while healthy` : '';
    this.deps.logger.info(`systemd: ready${wd}`);
  }

  /** Recomputes the status line now and sends it if it changed. */
  refresh(health: Health = this.checkHealth()): void {
    if (this.state !== 'running') return;
    const line = this.line(health);
    if (line === this.lastLine) return;
    this.lastLine = line;
    this.deps.notifier.status(line);
  }

  /** STOPPING=1 with a last status; the watchdog keeps pinging on liveness alone until close(). */
  stopping(status: string): void {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.unhook();
    this.watchdog?.stopping();
    this.deps.notifier.stopping(status);
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.unhook();
    this.watchdog?.stop();
  }

  get watchdogCounts(): { pings: number; withheld: number } | null {
    return this.watchdog?.counts ?? null;
  }

  private unhook(): void {
    this.statusTimer?.cancel();
    this.statusTimer = null;
    this.deps.uplink?.off('connected', this.onUplink);
    this.deps.uplink?.off('disconnected', this.onUplink);
  }

  private scheduleStatus(): void {
    this.statusTimer = this.deps.timers.setTimeout(() => {
      this.refresh();
      if (this.state === 'running') this.scheduleStatus();
    }, this.statusEveryMs);
  }

  /** The health check, logging each change once (the watchdog checks it every few seconds). */
  private checkHealth(): Health {
    const health = this.deps.health.check();
    const was = this.lastHealth;
    this.lastHealth = health;
    if (health.healthy !== was.healthy && this.state === 'running') {
      const watchdog = this.watchdog ? '; withholding watchdog pings, systemd restarts the agent after WatchdogSec' : '';
      if (!health.healthy) this.deps.logger.error(`unhealthy: ${health.reason ?? 'unknown'}${watchdog}`);
      else this.deps.logger.info('healthy again');
      this.refresh(health);
    }
    return health;
  }

  private line(health: Health): string {
    let facts: Omit<StatusFacts, 'health'>;
    try {
      facts = this.deps.facts();
    } catch (err) {
      return `status unavailable: ${(err as Error).message}`;
    }
    return formatStatus({ ...facts, health });
  }
}

export interface SupervisorWiring {
  env: NodeJS.ProcessEnv;
  pid: number;
  send: NotifySend;
  /** AgentService: the schedule it runs now. */
  agent: { readonly operational: OperationalConfig | null };
  /** The outbox AgentService appends to, watched. */
  outbox: WatchedOutbox;
  transport: UplinkView | null;
  clock: ClockStatus;
  logger: Logger;
  timers?: Timers;
}

/** Builds the supervisor from the running agent's parts (the composition root calls this). */
export function createSupervisor(w: SupervisorWiring): ServiceSupervisor {
  const timers = w.timers ?? unrefTimers;
  const notifier = SdNotifier.fromEnv(w.env, w.send, w.logger);
  const health = new HealthMonitor({ operational: () => w.agent.operational, appends: () => w.outbox.appends, now: () => timers.now() });
  const facts = (): Omit<StatusFacts, 'health'> => {
    const ops = w.agent.operational;
    let buffered: number | null;
    try {
      buffered = w.outbox.stats().rows;
    } catch {
      buffered = null;
    }
    return {
      monitoring: ops === null ? null : ops.agent_operations.monitoring_enabled,
      probes: ops?.probes.length ?? 0,
      buffered,
      uplink: w.transport === null ? 'none' : w.transport.connected ? 'connected' : 'disconnected',
      clockSynced: w.clock.synced(),
    };
  };
  const usec = notifier.enabled ? watchdogUsec(w.env, w.pid, w.logger) : null;
  return new ServiceSupervisor({ notifier, watchdogUsec: usec, health, facts, uplink: w.transport, logger: w.logger, timers });
}
