import { readFileSync } from 'node:fs';
import { parseCommandArgs } from '../../agent/cli/args.js';
import { UsageError } from '../../agent/cli/errors.js';
import type { ApiClient } from './client.js';

// The fleet operations of the CLI, each one API call. Output is JSON (for scripts) except
// `devices list`, which prints a table unless --json.

export interface Out {
  write(s: string): void;
}

function readInput(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseJsonArg(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not JSON: ${(err as Error).message}`);
  }
}

const enc = encodeURIComponent;
const json = (out: Out, v: unknown): void => out.write(`${JSON.stringify(v, null, 2)}\n`);

interface DeviceRow {
  id: string;
  online: boolean | null;
  last_seen: string | null;
  agent_version: string | null;
  config: { pushed_version: number | null; applied_version: number | null; status: string };
  outbox: { rows: number } | null;
  dropped_total: number | null;
}

function table(devices: DeviceRow[]): string {
  const rows = [['DEVICE', 'ONLINE', 'LAST SEEN', 'AGENT', 'CONFIG', 'OUTBOX', 'DROPPED']];
  for (const d of devices) {
    const cfg = d.config.pushed_version === null ? (d.config.applied_version === null ? 'file' : `v${d.config.applied_version}`) : `v${d.config.pushed_version} ${d.config.status}`;
    rows.push([d.id, d.online === null ? '-' : d.online ? 'yes' : 'no', d.last_seen ?? '-', d.agent_version ?? '-', cfg, String(d.outbox?.rows ?? '-'), String(d.dropped_total ?? '-')]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Runs one client command; returns the exit status. */
export async function runFleetCommand(api: ApiClient, group: string, argv: string[], out: Out): Promise<number> {
  const sub = argv[0];
  const rest = argv.slice(1);
  switch (`${group} ${group === 'command' || group === 'results' || group === 'history' || group === 'commands' ? '' : sub ?? ''}`.trim()) {
    case 'devices list': {
      const { values } = parseCommandArgs(rest, { json: { type: 'boolean' } });
      const body = (await api.call('GET', '/api/devices')).body as { devices: DeviceRow[] };
      out.write(values.json ? `${JSON.stringify(body, null, 2)}\n` : table(body.devices));
      return 0;
    }
    case 'devices show': {
      const { positionals } = parseCommandArgs(rest, {}, 1);
      json(out, (await api.call('GET', `/api/devices/${enc(need(positionals[0], 'a device id'))}`)).body);
      return 0;
    }
    case 'devices add': {
      const { values, positionals } = parseCommandArgs(rest, { password: { type: 'string' }, 'generate-password': { type: 'boolean' }, 'public-key': { type: 'string', multiple: true } }, 1);
      const keys = (values['public-key'] ?? []).map(readInput);
      const reg = {
        id: need(positionals[0], 'a device id'),
        ...(values.password === undefined ? {} : { password: values.password }),
        ...(keys.length ? { public_keys: keys } : {}),
        ...(values['generate-password'] ? { generate_password: true } : {}),
      };
      json(out, (await api.call('POST', '/api/devices', { json: reg })).body);
      return 0;
    }
    case 'devices import': {
      const { positionals } = parseCommandArgs(rest, {}, 1);
      json(out, (await api.call('POST', '/api/devices/import', { text: readInput(need(positionals[0], 'a CSV file (or - for stdin)')), type: 'text/csv' })).body);
      return 0;
    }
    case 'devices remove': {
      const { positionals } = parseCommandArgs(rest, {}, 1);
      json(out, (await api.call('DELETE', `/api/devices/${enc(need(positionals[0], 'a device id'))}`)).body);
      return 0;
    }
    case 'devices password': {
      const { positionals } = parseCommandArgs(rest, {}, 1);
      json(out, (await api.call('POST', `/api/devices/${enc(need(positionals[0], 'a device id'))}/password`)).body);
      return 0;
    }
    case 'config show': {
      const { positionals } = parseCommandArgs(rest, {}, 1);
      json(out, (await api.call('GET', `/api/devices/${enc(need(positionals[0], 'a device id'))}/config`)).body);
      return 0;
    }
    case 'config push':
    case 'config check': {
      const { positionals } = parseCommandArgs(rest, {}, 2);
      const id = need(positionals[0], 'a device id');
      const file = need(positionals[1], 'a config file (JSON; - for stdin)');
      const doc = parseJsonArg(file, readInput(file));
      json(out, (await api.call(sub === 'push' ? 'PUT' : 'POST', `/api/devices/${enc(id)}/config${sub === 'push' ? '' : '/check'}`, { json: doc })).body);
      return 0;
    }
    case 'command': {
      const { values, positionals } = parseCommandArgs(argv, { args: { type: 'string' }, wait: { type: 'string' }, 'expires-in': { type: 'string' } }, 2);
      const id = need(positionals[0], 'a device id');
      const body = {
        command: need(positionals[1], 'a command (start, stop, probe-now, drain, restart, update)'),
        ...(values.args === undefined ? {} : { args: parseJsonArg('--args', values.args) }),
        ...(values['expires-in'] === undefined ? {} : { expires_in_s: Number(values['expires-in']) }),
      };
      const wait = values.wait ?? '30';
      if (!/^\d+$/.test(wait)) throw new UsageError(`--wait: expected seconds, got "${wait}"`);
      const r = (await api.call('POST', `/api/devices/${enc(id)}/commands?wait=${wait}`, { json: body })).body as { status: string };
      json(out, r);
      return r.status === 'ok' || (wait === '0' && r.status !== 'error' && r.status !== 'rejected') ? 0 : 1;
    }
    case 'commands': {
      const { positionals } = parseCommandArgs(argv, {}, 1);
      json(out, (await api.call('GET', `/api/devices/${enc(need(positionals[0], 'a device id'))}/commands`)).body);
      return 0;
    }
    case 'results':
    case 'history': {
      const { values, positionals } = parseCommandArgs(argv, { target: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, resolution: { type: 'string' } }, 1);
      const q = new URLSearchParams(Object.entries(values).filter((e): e is [string, string] => typeof e[1] === 'string'));
      json(out, (await api.call('GET', `/api/devices/${enc(need(positionals[0], 'a device id'))}/${group}?${q}`)).body);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${[group, sub].filter(Boolean).join(' ')}" (see fleetprobe-console --help)`);
  }
}

function need(v: string | undefined, what: string): string {
  if (v === undefined || v === '') throw new UsageError(`expected ${what}`);
  return v;
}
