// Test doubles for the control layer's unit tests: an in-memory JSON store, a transport
// that records publishes, a logger that keeps lines. They exist for what the real parts
// cannot be made to do on demand (a persist that fails mid-change, a publish observed at an
// exact moment); every behaviour they cover also runs end to end against the real agent,
// real Mosquitto and real files in test/control/*-push, commands and persistence tests.
import type { Logger } from '../../agent/core/logger.js';
import type { Transport, TransportEvents } from '../../agent/core/uplink.js';
import type { JsonStore } from '../../agent/control/json-store.js';
import { configSchema, type OperationalConfig } from '../../agent/config/schema.js';

export class MemoryStore implements JsonStore {
  readonly path = '/memory/store.json';
  value: Record<string, unknown> = {};
  writes = 0;
  failWrites: Error | null = null;

  read(): Record<string, unknown> {
    return structuredClone(this.value);
  }

  write(value: Record<string, unknown>): void {
    if (this.failWrites) throw this.failWrites;
    this.value = structuredClone(value);
    this.writes++;
  }
}

export class LinesLogger implements Logger {
  readonly lines: string[] = [];
  debug(m: string): void { this.lines.push(`debug: ${m}`); }
  info(m: string): void { this.lines.push(`info: ${m}`); }
  warn(m: string): void { this.lines.push(`warn: ${m}`); }
  error(m: string): void { this.lines.push(`error: ${m}`); }
}

export class FakeTransport implements Transport {
  connected = true;
  readonly maxEventBytes = 256 * 1024;
  readonly events: Array<{ subfolder: string | undefined; payload: unknown }> = [];
  readonly states: unknown[] = [];
  failPublishes = false;
  private readonly listeners = new Map<keyof TransportEvents, Set<(...a: never[]) => void>>();

  start(): void {}
  async stop(): Promise<void> {}

  async publishEvent(payload: Buffer, subfolder?: string): Promise<void> {
    if (this.failPublishes || !this.connected) throw new Error('not connected');
    this.events.push({ subfolder, payload: JSON.parse(payload.toString()) });
  }

  async publishState(payload: Buffer): Promise<void> {
    if (!this.connected) throw new Error('not connected');
    this.states.push(JSON.parse(payload.toString()));
  }

  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (...a: never[]) => void);
  }

  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void {
    this.listeners.get(event)?.delete(listener as (...a: never[]) => void);
  }

  emit<E extends keyof TransportEvents>(event: E, ...args: Parameters<TransportEvents[E]>): void {
    for (const l of this.listeners.get(event) ?? []) (l as (...a: Parameters<TransportEvents[E]>) => void)(...args);
  }
}

/** The operational part of a config, through the real schema (defaults filled in). */
export function ops(input: { agent_operations?: Record<string, unknown>; probes?: Array<Record<string, unknown>> } = {}): OperationalConfig {
  const c = configSchema.parse(input);
  return { agent_operations: c.agent_operations, probes: c.probes };
}

/** A fixed network layout for policy tests (os.networkInterfaces() shape). */
export function fakeInterfaces(): NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]> {
  const v4 = (address: string, netmask: string, cidr: string): import('node:os').NetworkInterfaceInfo => ({ address, netmask, family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr });
  const v6 = (address: string, cidr: string): import('node:os').NetworkInterfaceInfo => ({ address, netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr, scopeid: 0 });
  return {
    lo: [v4('127.0.0.1', '255.0.0.0', '127.0.0.1/8'), v6('::1', '::1/128')],
    eth0: [v4('192.168.7.23', '255.255.255.0', '192.168.7.23/24'), v6('fd00:7::23', 'fd00:7::23/64')],
  };
}
