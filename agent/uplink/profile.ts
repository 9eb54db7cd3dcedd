import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import type { UplinkConfig } from '../config/schema.js';
import { UplinkConfigError } from './errors.js';
import type { DeviceTopics } from './topics.js';

/** What one connection attempt needs, made fresh each time (a new JWT, re-read certificates). */
export interface ConnectPlan {
  options: IClientOptions;
  /** Reconnect proactively this long after connecting (before the JWT expires); null: never. */
  refreshAfterMs: number | null;
}

/** Everything that differs between brokers; the transport's connection loop is shared. */
export interface UplinkProfile {
  readonly name: UplinkConfig['profile'];
  /** For logs: where we connect, without credentials. */
  readonly endpoint: string;
  readonly clientId: string;
  readonly topics: DeviceTopics;
  readonly maxEventBytes: number;
  /** Credentials that depend on the wall clock (JWT): wait for NTP before authenticating. */
  readonly needsSyncedClock: boolean;
  /** Retained online/offline presence with a last will; null where the broker has neither. */
  readonly statusTopic: string | null;
  /** Broker-side publish quotas (messages per second); null: none. */
  readonly publishPerSecond: number | null;
  readonly statePerSecond: number | null;
  /** TLS verification disabled by explicit configuration. */
  readonly insecure: boolean;
  plan(now: Date): ConnectPlan;
}

export interface ProfileDeps {
  deviceId: string;
  /** Overrides jwt_ttl_minutes (tests need tokens that expire in seconds). */
  jwtTtlMs?: number;
}

/** 256 KB is IoT Core's telemetry limit; plain brokers get the same so batches compare. */
export const DEFAULT_MAX_EVENT_BYTES = 256 * 1024;

/** Reads a PEM file named in the config; failures name the setting. */
export function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UplinkConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
