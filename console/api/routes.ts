import { z } from 'zod';
import { mosquittoFiles } from '../broker/mosquitto-files.js';
import type { Bus } from '../broker/bus.js';
import { commandView } from '../fleet/commands.js';
import { ConfigInvalidError, VersionConflictError } from '../fleet/config-push.js';
import { CsvError } from '../fleet/csv.js';
import { deviceView } from '../fleet/device-view.js';
import type { Fleet } from '../fleet/fleet.js';
import { registrationSchema, RegistrationError } from '../fleet/registry.js';
import { DuplicateDeviceError, ROLLUP_STEPS_S, type Store } from '../store/store.js';
import { chooseResolution, history, type Resolution } from './history.js';
import { HttpError, Router, type Handler, type Request } from './http-server.js';
import { parseInt, parseRange } from './query.js';

export interface RouteDeps {
  store: Store;
  fleet: Fleet;
  bus: Bus;
  now: () => number;
  version: string;
  /** For GET /api/mosquitto: the console's own user on an external Mosquitto. */
  mosquittoConsoleUser: { username: string; mosquittoHash: string } | null;
  topicPrefix: string;
  topicsFor: (device: string) => { config: string };
  /** What GET /api/console tells about how devices connect. */
  deviceEndpoints: () => { mqtt: string[]; iot_core: { project: string; region: string; registry: string } | null };
}

const registerBody = z.union([registrationSchema, z.strictObject({ devices: z.array(registrationSchema).min(1).max(10_000) })]);

/** Maps the fleet's errors to HTTP statuses. */
function wrap(h: Handler): Handler {
  return async (req) => {
    try {
      return await h(req);
    } catch (err) {
      if (err instanceof DuplicateDeviceError) throw new HttpError(409, err.message, { ids: err.ids });
      if (err instanceof RegistrationError || err instanceof CsvError) throw new HttpError(400, err.message);
      if (err instanceof ConfigInvalidError) throw new HttpError(422, err.message, { problems: err.problems });
      if (err instanceof VersionConflictError) throw new HttpError(409, err.message);
      throw err;
    }
  };
}

export function apiRoutes(d: RouteDeps): Router {
  const { store, fleet } = d;
  const device = async (req: Request) => {
    const rec = await store.device(req.params.id!);
    if (!rec) throw new HttpError(404, `no device ${req.params.id}`);
    return rec;
  };
  const target = (req: Request) => req.query.get('target') || undefined;
  const r = new Router();
  const add = (m: string, p: string, h: Handler) => r.add(m, p, wrap(h));

  add('GET', '/api/console', async () => ({
    body: { version: d.version, broker: d.bus.stats(), devices: d.deviceEndpoints(), ingest: fleet.stats(), topic_prefix: d.topicPrefix },
  }));

  add('GET', '/api/devices', async () => {
    const [devices, configs] = await Promise.all([store.devices(), store.latestConfigs({ unpublishedOnly: false })]);
    const latest = new Map(configs.map((c) => [c.device, c]));
    return { body: { devices: devices.map((x) => deviceView(x, latest.get(x.id) ?? null)) } };
  });

  add('POST', '/api/devices', async (req) => {
    const b = registerBody.parse(await req.json());
    const registered = await fleet.registry.register('devices' in b ? b.devices : [b]);
    return { status: 201, body: { registered } };
  });

  add('POST', '/api/devices/import', async (req) => ({ status: 201, body: { registered: await fleet.registry.registerCsv(await req.text()) } }));

  add('GET', '/api/devices/:id', async (req) => {
    const rec = await device(req);
    const [latest, streams, commands] = await Promise.all([store.latestConfig(rec.id), store.streams(rec.id), store.commands(rec.id, 20)]);
    const now = d.now();
    return { body: { device: deviceView(rec, latest), state: rec.state, streams, commands: commands.map((c) => commandView(c, now)) } };
  });

  add('DELETE', '/api/devices/:id', async (req) => {
    const rec = await device(req);
    await fleet.registry.remove(rec.id);
    // An empty retained message clears the config the broker kept for it.
    await d.bus.publish(d.topicsFor(rec.id).config, Buffer.alloc(0), { retain: true }).catch(() => undefined);
    return { body: { removed: rec.id, disconnected: d.bus.disconnect(rec.id) } };
  });

  add('POST', '/api/devices/:id/password', async (req) => {
    const rec = await device(req);
    return { body: { id: rec.id, password: await fleet.registry.resetPassword(rec.id) } };
  });

  add('GET', '/api/devices/:id/config', async (req) => {
    const rec = await device(req);
    const latest = await store.latestConfig(rec.id);
    return {
      body: {
        pushed: latest ? { version: latest.version, document: latest.document, pushed_at: new Date(latest.pushedAt).toISOString(), published: latest.publishedAt !== null } : null,
        status: deviceView(rec, latest).config,
      },
    };
  });

  add('PUT', '/api/devices/:id/config', async (req) => {
    const rec = await device(req);
    const out = await fleet.configs.push(rec.id, await req.json());
    return { status: 202, body: out };
  });

  add('POST', '/api/devices/:id/config/check', async (req) => {
    const rec = await device(req);
    const { version } = await fleet.configs.check(rec.id, await req.json());
    return { body: { ok: true, version } };
  });

  add('GET', '/api/devices/:id/commands', async (req) => {
    const rec = await device(req);
    const now = d.now();
    return { body: { commands: (await store.commands(rec.id, parseInt('limit', req.query.get('limit'), 50, 1, 1000))).map((c) => commandView(c, now)) } };
  });

  add('POST', '/api/devices/:id/commands', async (req) => {
    const rec = await device(req);
    const wait = parseInt('wait', req.query.get('wait'), 0, 0, 120);
    let c = await fleet.commands.send(rec.id, await req.json());
    if (wait > 0) c = (await fleet.commands.wait(rec.id, c.id, wait * 1000)) ?? c;
    return { status: c.reply ? 200 : 202, body: commandView(c, d.now()) };
  });

  add('GET', '/api/devices/:id/commands/:cid', async (req) => {
    const rec = await device(req);
    const wait = parseInt('wait', req.query.get('wait'), 0, 0, 120);
    const c = wait > 0 ? await fleet.commands.wait(rec.id, req.params.cid!, wait * 1000) : await store.command(rec.id, req.params.cid!);
    if (!c) throw new HttpError(404, `no command ${req.params.cid} for ${rec.id}`);
    return { body: commandView(c, d.now()) };
  });

  add('GET', '/api/devices/:id/results', async (req) => {
    const rec = await device(req);
    const { from, to } = parseRange(req.query, d.now(), 3_600_000);
    const limit = parseInt('limit', req.query.get('limit'), 10_000, 1, 100_000);
    const t = target(req);
    const out = await store.results({ device: rec.id, from, to, limit, ...(t === undefined ? {} : { target: t }) });
    return { body: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...out } };
  });

  add('GET', '/api/devices/:id/history', async (req) => {
    const rec = await device(req);
    const { from, to } = parseRange(req.query, d.now(), 3_600_000);
    const step = req.query.get('resolution');
    let resolution: Resolution = chooseResolution(to - from);
    if (step !== null && step !== '' && step !== 'auto') {
      const n = Number(step);
      if (step === 'raw') resolution = 'raw';
      else if ((ROLLUP_STEPS_S as readonly number[]).includes(n)) resolution = n as Resolution;
      else throw new HttpError(400, `resolution: expected auto, raw, ${ROLLUP_STEPS_S.join(' or ')}`);
    }
    const t = target(req);
    const h = await history(store, { device: rec.id, from, to, resolution, ...(t === undefined ? {} : { target: t }) });
    return { body: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), ...h } };
  });

  add('GET', '/api/devices/:id/streams', async (req) => {
    const rec = await device(req);
    const [streams, gaps] = await Promise.all([store.streams(rec.id), store.gaps(rec.id, parseInt('limit', req.query.get('limit'), 100, 1, 10_000))]);
    return { body: { streams, gaps } };
  });

  add('GET', '/api/mosquitto/:file', async (req) => {
    const files = mosquittoFiles(await store.devices(), d.mosquittoConsoleUser, d.topicPrefix);
    if (req.params.file === 'passwd') return { body: files.passwordFile, contentType: 'text/plain; charset=utf-8' };
    if (req.params.file === 'acl') return { body: files.aclFile, contentType: 'text/plain; charset=utf-8' };
    throw new HttpError(404, 'expected /api/mosquitto/passwd or /api/mosquitto/acl');
  });

  return r;
}
