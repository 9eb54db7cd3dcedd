import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { deviceView } from '../fleet/device-view.js';
import { commandView } from '../fleet/commands.js';
import type { ConfigRecord, DeviceRecord, Store } from '../store/store.js';
import { chartData, sparkline, type ChartData } from './ui-series.js';
import type { UiConfigDoc, UiDeviceBody, UiFleetBody, UiFleetDevice } from './ui-types.js';

// Read-only views the web UI needs beyond the core API (under /api/ui/, same auth): the
// fleet table with sparklines in one request, a device's page in one request, and chart
// columns. Pushing, checking config and sending commands go through the core API
// (console/api/routes.ts); the device and command views are the core API's own.

export interface UiApiDeps {
  store: Store;
  now: () => number;
  /** Sparklines by device: they change every 5 minutes, the fleet list asks every 5 seconds. */
  sparkCache: Map<string, { at: number; values: Array<number | null> }>;
}

const SPARK_TTL_MS = 30_000;

const SPARK_SPAN_MS = 6 * 3600_000;
const SPARK_STEP_S = 300;
const MAX_BODY = 256 * 1024;
const RANGE_MAX_MS = 400 * 86_400_000;

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** JSON; gzipped when large and the client takes it (a year of a device's chart is megabytes, a phone may be on mobile data). */
export function sendJson(res: ServerResponse, status: number, body: unknown, req?: IncomingMessage): void {
  const text = Buffer.from(JSON.stringify(body));
  const gzip = req !== undefined && text.length > 8192 && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const out = gzip ? gzipSync(text) : text;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    ...(gzip ? { 'content-encoding': 'gzip', vary: 'accept-encoding' } : {}), 'content-length': out.length,
  });
  res.end(out);
}

export async function readBody(req: IncomingMessage, max = MAX_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new HttpError(413, `request body over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Handles /api/ui/...; returns false for any other path. Auth is checked by the caller. */
export async function handleUiApi(deps: UiApiDeps, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  if (!path.startsWith('/api/ui/')) return false;
  const method = req.method ?? 'GET';
  if (path === '/api/ui/fleet') {
    allow(method, 'GET');
    const body: UiFleetBody = { now: deps.now(), devices: await fleet(deps) };
    sendJson(res, 200, body, req);
    return true;
  }
  const m = /^\/api\/ui\/devices\/([^/]+)(\/chart)?$/.exec(path);
  if (!m) throw new HttpError(404, `no such route: ${path}`);
  const id = decodeURIComponent(m[1]!);
  const device = await deps.store.device(id);
  if (!device) throw new HttpError(404, `no such device: ${id}`);
  if (m[2] === undefined) {
    allow(method, 'GET');
    sendJson(res, 200, await detail(deps, device), req);
  } else {
    allow(method, 'GET');
    sendJson(res, 200, await chart(deps, id, url), req);
  }
  return true;
}

function allow(method: string, wanted: string): void {
  if (method !== wanted) throw new HttpError(405, `use ${wanted}`);
}

async function fleet(deps: UiApiDeps): Promise<UiFleetDevice[]> {
  const now = deps.now();
  const [devices, configs] = await Promise.all([deps.store.devices(), deps.store.latestConfigs({ unpublishedOnly: false })]);
  const latest = new Map(configs.map((c) => [c.device, c]));
  const out: UiFleetDevice[] = [];
  const ids = new Set(devices.map((d) => d.id));
  for (const id of deps.sparkCache.keys()) if (!ids.has(id)) deps.sparkCache.delete(id);
  for (const d of devices) {
    let spark = deps.sparkCache.get(d.id);
    if (!spark || now - spark.at >= SPARK_TTL_MS) {
      // A device not heard from in the window has nothing to draw: no queries for it.
      const quiet = d.lastSeen === null || d.lastSeen < now - SPARK_SPAN_MS;
      const values = quiet
        ? new Array<number | null>(SPARK_SPAN_MS / (SPARK_STEP_S * 1000)).fill(null)
        : sparkline(await chartData(deps.store, { device: d.id, from: now - SPARK_SPAN_MS, to: now, stepS: SPARK_STEP_S }));
      spark = { at: now, values };
      deps.sparkCache.set(d.id, spark);
    }
    out.push({ ...deviceView(d, latest.get(d.id) ?? null), spark: { step_s: SPARK_STEP_S, from: spark.at - SPARK_SPAN_MS, values: spark.values } });
  }
  return out;
}

async function detail(deps: UiApiDeps, d: DeviceRecord): Promise<UiDeviceBody> {
  const [latest, commands, streams, gaps] = await Promise.all([
    deps.store.latestConfig(d.id), deps.store.commands(d.id, 30), deps.store.streams(d.id), deps.store.gaps(d.id, 20),
  ]);
  const now = deps.now();
  const appliedVersion = d.state?.config_version ?? null;
  const applied = appliedVersion === null ? null : appliedVersion === latest?.version ? latest : await deps.store.configVersion(d.id, appliedVersion);
  const doc = (c: ConfigRecord | null): UiConfigDoc | null => (c ? { version: c.version, document: c.document, pushed_at: new Date(c.pushedAt).toISOString() } : null);
  return {
    now,
    device: deviceView(d, latest),
    state: d.state,
    latest_config: doc(latest),
    applied_config: doc(applied),
    commands: commands.map((c) => commandView(c, now)),
    streams,
    gaps,
  };
}

async function chart(deps: UiApiDeps, device: string, url: URL): Promise<ChartData> {
  const now = deps.now();
  const to = num(url.searchParams.get('to'), now, 'to');
  const from = num(url.searchParams.get('from'), to - 3600_000, 'from');
  if (!(from < to)) throw new HttpError(400, 'from must be before to');
  if (to - from > RANGE_MAX_MS) throw new HttpError(400, 'range longer than 400 days');
  const target = url.searchParams.get('target') ?? undefined;
  return chartData(deps.store, { device, from, to, ...(target ? { target } : {}) });
}

function num(v: string | null, dflt: number, name: string): number {
  if (v === null || v === '') return dflt;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new HttpError(400, `${name}: expected epoch milliseconds or an ISO 8601 time`);
  return n;
}

