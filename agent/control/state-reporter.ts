import type { AgentState } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import type { Transport } from '../core/uplink.js';
import type { Timers } from '../schedule/scheduler.js';
import type { JsonStore } from './json-store.js';
import { significant } from './state.js';

export interface StateReporterDeps {
  build: () => AgentState;
  /** Null without an uplink: the status file alone. */
  transport: Transport | null;
  /** status.json for `fleetprobe status`; null to keep none. */
  statusFile: JsonStore | null;
  /** Extra fields for the status file only (pid). */
  fileExtras?: Record<string, string | number | boolean>;
  /** Seconds: the longest time between two states. */
  intervalS: number;
  logger: Logger;
  timers: Timers;
}

/** IoT Core allows one state update per second per device; we never ask for more. */
export const MIN_GAP_MS = 1000;
/** How often the sources are looked at for changes nobody announced (skipped rounds, drops). */
const POLL_MS = 1000;

/**
 * Publishes the state on connect, on every change (at most once a second) and at least
 * every intervalS, and writes the same to the status file each time.
 */
export class StateReporter {
  private lastEmit = -Infinity;
  private lastKey = '';
  private pokeTimer: { cancel(): void } | null = null;
  private pollTimer: { cancel(): void } | null = null;
  private running = false;
  private fileFailing = false;
  private readonly onConnected = (): void => {
    this.lastKey = ''; // a new connection gets the state even if nothing changed
    this.poke();
  };

  constructor(private readonly deps: StateReporterDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.deps.transport?.on('connected', this.onConnected);
    this.emit();
    this.poll();
  }

  /** Something changed: a state goes out as soon as the once-a-second cap allows. */
  poke(): void {
    if (!this.running || this.pokeTimer) return;
    const wait = Math.max(0, this.lastEmit + MIN_GAP_MS - this.deps.timers.now());
    this.pokeTimer = this.deps.timers.setTimeout(() => {
      this.pokeTimer = null;
      this.emit();
    }, wait);
  }

  /** Stops publishing; the status file gets a last snapshot. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.deps.transport?.off('connected', this.onConnected);
    this.pokeTimer?.cancel();
    this.pollTimer?.cancel();
    this.write(this.deps.build());
  }

  private poll(): void {
    this.pollTimer = this.deps.timers.setTimeout(() => {
      if (!this.running) return;
      const due = this.deps.timers.now() - this.lastEmit >= this.deps.intervalS * 1000;
      if (due || significant(this.deps.build()) !== this.lastKey) this.poke();
      this.poll();
    }, POLL_MS);
  }

  private emit(): void {
    if (!this.running) return;
    const state = this.deps.build();
    this.lastEmit = this.deps.timers.now();
    this.lastKey = significant(state);
    this.write(state);
    const t = this.deps.transport;
    if (t?.connected) {
      t.publishState(Buffer.from(JSON.stringify(state))).catch((err: Error) => this.deps.logger.debug(`control: state not published: ${err.message}`));
    }
  }

  private write(state: AgentState): void {
    if (!this.deps.statusFile) return;
    try {
      this.deps.statusFile.write({ ...state, ...this.deps.fileExtras });
      this.fileFailing = false;
    } catch (err) {
      if (!this.fileFailing) this.deps.logger.warn(`control: cannot write ${this.deps.statusFile.path}: ${(err as Error).message}`);
      this.fileFailing = true;
    }
  }
}
