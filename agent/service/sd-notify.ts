import type { Logger } from '../core/logger.js';

/** Sends one datagram to the socket path ('@' = abstract namespace): the addon's notify(). */
export type NotifySend = (socketPath: string, message: string) => void;

/**
 * The sd_notify(3) messages the agent sends to systemd. Every method is a no-op when the
 * agent was not started by systemd with Type=notify (no $NOTIFY_SOCKET), and none throws:
 * losing a status update must never take the agent down.
 */
export interface ServiceNotifier {
  /** True when $NOTIFY_SOCKET names a socket we can talk to. */
  readonly enabled: boolean;
  ready(status: string): void;
  status(status: string): void;
  watchdog(): void;
  stopping(status: string): void;
}

// systemd keeps STATUS= as free text; one short line reads well in `systemctl status`.
const STATUS_MAX = 200;

/** One line of printable text (control characters would break the assignment-per-line format). */
export function statusText(text: string): string {
  const line = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return line.length > STATUS_MAX ? `${line.slice(0, STATUS_MAX - 1)}…` : line;
}

/**
 * sd_notify without libsystemd. The datagram is sent by the addon from this very process,
 * so systemd sees the main PID as the sender and NotifyAccess=main is enough.
 */
export class SdNotifier implements ServiceNotifier {
  private failing: string | null = null;

  private constructor(
    private readonly socket: string | null,
    private readonly send: NotifySend,
    private readonly logger: Logger,
  ) {}

  /** Reads $NOTIFY_SOCKET like sd_notify(3): an absolute path or '@abstract'; anything else is ignored with a warning. */
  static fromEnv(env: NodeJS.ProcessEnv, send: NotifySend, logger: Logger): SdNotifier {
    const socket = env.NOTIFY_SOCKET;
    if (socket === undefined || socket === '') return new SdNotifier(null, send, logger);
    if (!socket.startsWith('/') && !socket.startsWith('@')) {
      logger.warn(`NOTIFY_SOCKET=${socket}: not a path or abstract socket name; not notifying systemd`);
      return new SdNotifier(null, send, logger);
    }
    return new SdNotifier(socket, send, logger);
  }

  get enabled(): boolean {
    return this.socket !== null;
  }

  ready(status: string): void {
    this.notify(`READY=1\nSTATUS=${statusText(status)}`);
  }

  status(status: string): void {
    this.notify(`STATUS=${statusText(status)}`);
  }

  watchdog(): void {
    this.notify('WATCHDOG=1');
  }

  stopping(status: string): void {
    this.notify(`STOPPING=1\nSTATUS=${statusText(status)}`);
  }

  private notify(message: string): void {
    if (this.socket === null) return;
    try {
      this.send(this.socket, message);
      if (this.failing !== null) this.logger.info(`systemd notifications to ${this.socket} work again`);
      this.failing = null;
    } catch (err) {
      // Logged once per distinct error: a watchdog ping fails every few seconds while systemd is away.
      const why = (err as Error).message;
      if (why !== this.failing) this.logger.warn(`cannot notify systemd at ${this.socket}: ${why}`);
      this.failing = why;
    }
  }
}

/**
 * The watchdog interval systemd asked for, in microseconds, or null when there is none for
 * this process: what sd_watchdog_enabled(3) returns. WATCHDOG_PID, when set, must be our
 * pid (the variables are inherited by children, which must not ping for us).
 */
export function watchdogUsec(env: NodeJS.ProcessEnv, pid: number, logger: Logger): number | null {
  const raw = env.WATCHDOG_USEC;
  if (raw === undefined || raw === '') return null;
  const usec = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(usec) || usec <= 0) {
    logger.warn(`WATCHDOG_USEC=${raw}: not a positive number of microseconds; no watchdog pings`);
    return null;
  }
  const owner = env.WATCHDOG_PID;
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return null;
  return usec;
}
