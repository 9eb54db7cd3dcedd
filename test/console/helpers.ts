// Shared parts of the console tests: a console started in-process on free ports with a temp
// state dir, an API client, device-side MQTT clients, and telemetry as the agent builds it.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../../agent/core/logger.js';
import type { ProbeResult } from '../../agent/core/result.js';
import type { ErrorBody } from '../../console/api/types.js';
import { parseConsoleConfig } from '../../console/config.js';
import { startConsole, type RunningConsole } from '../../console/main.js';

export const TOKEN = 'test-admin-token-0123456789';

export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  debug(m: string): void { this.lines.push(`debug: ${m}`); }
  info(m: string): void { this.lines.push(`info: ${m}`); }
  warn(m: string): void { this.lines.push(`warn: ${m}`); }
  error(m: string): void { this.lines.push(`error: ${m}`); }
}

export interface TestConsole extends RunningConsole {
  dir: string;
  logger: MemoryLogger;
  api<T = unknown>(method: string, path: string, body?: unknown, opts?: { token?: string | null; contentType?: string }): Promise<{ status: number; body: T & Partial<ErrorBody> }>;
  remove(): Promise<void>;
}

/** `opts.dir`: start again on the state directory of a stopped console. */
export async function startTestConsole(extra: Record<string, unknown> = {}, opts: { now?: () => number; dir?: string } = {}): Promise<TestConsole> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'fp-console-'));
  const logger = new MemoryLogger();
  const cfg = parseConsoleConfig({ state_dir: dir, admin_token: TOKEN, http: { port: 0 }, broker: { port: 0 }, ...extra }, 'test');
  const c = await startConsole({ ...cfg, state_dir: dir }, logger, opts.now);
  const api = async <T,>(method: string, path: string, body?: unknown, o: { token?: string | null; contentType?: string } = {}): Promise<{ status: number; body: T & Partial<ErrorBody> }> => {
    const headers: Record<string, string> = {};
    const token = o.token === undefined ? TOKEN : o.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    const res = await fetch(`${c.httpUrl}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text (generated files)
    }
    return { status: res.status, body: parsed as never };
  };
  return Object.assign(c, {
    dir, logger, api,
    remove: async () => {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** A device-side MQTT client; connection refusals come back as the error (with .code). */
export async function deviceClient(url: string, opts: IClientOptions): Promise<MqttClient> {
  const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
  client.on('error', () => undefined);
  return client;
}

/** The CONNACK refusal code of a connection attempt, or 0 when it was accepted. */
export async function connectCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await deviceClient(url, opts);
    await c.endAsync();
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

export function ecKeyPair(): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function es256Jwt(key: KeyObject, claims: Record<string, unknown>): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const data = `${enc({ alg: 'ES256', typ: 'JWT' })}.${enc(claims)}`;
  return `${data}.${sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

export function rs256Jwt(key: KeyObject, claims: Record<string, unknown>): string {
  const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const data = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${data}.${sign('sha256', Buffer.from(data), key).toString('base64url')}`;
}

export function rsaKeyPair(): { privateKey: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function result(name: string, ts: number, rtts: Array<number | null>, target = '127.0.0.1'): ProbeResult {
  const got = rtts.filter((v): v is number => v !== null).sort((a, b) => a - b);
  const med = got.length ? got[Math.floor(got.length / 2)]! : null;
  return {
    schema: 1, type: 'icmp', name, target, address: target, family: 4, ts: new Date(ts).toISOString(), size: 56,
    sent: rtts.length, received: got.length, duplicates: 0, late: 0, loss_pct: Math.round(((rtts.length - got.length) / rtts.length) * 100000) / 1000,
    min_ms: got[0] ?? null, avg_ms: med, max_ms: got.at(-1) ?? null, mdev_ms: got.length ? 0 : null, median_ms: med, jitter_ms: got.length ? 0 : null,
    rtts_ms: rtts, ttl: 64, errors: [],
  };
}

/** A telemetry message as the agent's BatchBuilder writes it. */
export function telemetry(device: string, stream: string, items: Array<{ seq: number; r: ProbeResult }>): Buffer {
  return Buffer.from(JSON.stringify({ schema: 1, device, stream, results: items.map(({ seq, r }) => ({ seq, ...r })) }));
}

export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
