import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatProblem, validateRemoteConfig, type ConfigProblem } from '../../agent/control/remote-config.js';
import { safeParseJson } from '../../agent/control/safe-json.js';
import type { DeviceRecord, Store } from '../store/store.js';
import { chartData, sparkline } from './ui-series.js';

// Read-only views the web UI needs beyond the core API (under /api/ui/, same auth): the
// fleet table in one request, a device's page, chart columns, and config validation with
// the agent's own schema. Pushing config and sending commands go through the core API.

export interface UiApiDeps {
  store: Store;
  now: () => number;
}

const SPARK_SPAN_MS = 6 * 3600_000;
const SPARK_STEP_S = 300;
const MAX_BODY = 256 * 1024;
const RANGE_MAX_MS = 400 * 86_400_000;

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
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
    sendJson(res, 200, { now: deps.now(), devices: await fleet(deps) });
    return true;
  }
  const m = /^\/api\/ui\/devices\/([^/]+)(\/chart|\/config\/validate)?$/.exec(path);
  if (!m) throw new HttpError(404, `no such route: ${path}`);
  const id = decodeURIComponent(m[1]!);
  const device = await deps.store.device(id);
  if (!device) throw new HttpError(404, `no such device: ${id}`);
  if (m[2] === undefined) {
    allow(method, 'GET');
    sendJson(res, 200, await detail(deps, device));
  } else if (m[2] === '/chart') {
    allow(method, 'GET');
    sendJson(res, 200, await chart(deps, id, url));
  } else {
    allow(method, 'POST');
    sendJson(res, 200, validate(await readBody(req)));
  }
  return true;
}

function allow(method: string, wanted: string): void {
  if (method !== wanted) throw new HttpError(405, `use ${wanted}`);
}

async function fleet(deps: UiApiDeps): Promise<unknown[]> {
  const now = deps.now();
  const devices = await deps.store.devices();
  const out: unknown[] = [];
  for (const d of devices) {
    const data = await chartData(deps.store, { device: d.id, from: now - SPARK_SPAN_MS, to: now, stepS: SPARK_STEP_S });
    out.push({ ...summary(d, await deps.store.latestConfig(d.id)), spark: { stepS: SPARK_STEP_S, from: now - SPARK_SPAN_MS, values: sparkline(data) } });
  }
  return out;
}

type LatestConfig = Awaited<ReturnType<Store['latestConfig']>>;

/** A device as the UI shows it; never its credentials. */
function summary(d: DeviceRecord, latest: LatestConfig): Record<string, unknown> {
  const s = d.state;
  return {
    id: d.id,
    online: d.online,
    lastSeen: d.lastSeen,
    presenceAt: d.presenceAt,
    stateAt: d.stateAt,
    agentVersion: s?.agent_version ?? null,
    monitoring: s?.monitoring_enabled ?? null,
    probes: s?.probes ?? null,
    outboxRows: s?.outbox.rows ?? null,
    outboxBytes: s?.outbox.bytes ?? null,
    droppedTotal: s?.dropped_total ?? null,
    uptimeS: s?.uptime_s ?? null,
    lastError: s?.last_error ?? null,
    config: {
      pushed: latest?.version ?? null,
      pushedAt: latest?.pushedAt ?? null,
      publishedAt: latest?.publishedAt ?? null,
      applied: s?.config_version ?? null,
      source: s?.config_source ?? null,
      error: s?.config_error ?? null,
    },
    rejectedMessages: d.rejectedMessages,
    lastRejection: d.lastRejection,
  };
}

async function detail(deps: UiApiDeps, d: DeviceRecord): Promise<unknown> {
  const [latest, commands, streams, gaps] = await Promise.all([
    deps.store.latestConfig(d.id), deps.store.commands(d.id, 30), deps.store.streams(d.id), deps.store.gaps(d.id, 20),
  ]);
  return {
    now: deps.now(),
    device: summary(d, latest),
    state: d.state,
    latestConfig: latest,
    commands,
    streams,
    gaps,
  };
}

async function chart(deps: UiApiDeps, device: string, url: URL): Promise<unknown> {
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

/**
 * The agent's own checks, minus its local safety policy (which the console cannot see):
 * byte and depth limits, then the remote config schema. `version` may be left out; the
 * console assigns the next one when it pushes.
 */
export function validate(body: string): { ok: boolean; problems: Array<ConfigProblem & { text: string }> } {
  const parsed = safeParseJson(body);
  if (!parsed.ok) return { ok: false, problems: [{ path: '', reason: parsed.reason, text: parsed.reason }] };
  const value = parsed.value;
  const doc = value !== null && typeof value === 'object' && !Array.isArray(value) && !('version' in value) ? { ...value, version: 0 } : value;
  const r = validateRemoteConfig(doc);
  if (r.ok) return { ok: true, problems: [] };
  return { ok: false, problems: r.problems.map((p) => ({ ...p, text: formatProblem(p) })) };
}
