import { z } from 'zod';
import { agentStateSchema } from '../core/control.js';
import { controlFilePath, CONTROL_FILES, readControlFile } from './json-store.js';

const statusFileSchema = agentStateSchema.extend({ pid: z.number().int().optional() });
export type StatusFile = z.infer<typeof statusFileSchema>;

/** Thrown when there is no status to show; the CLI prints it as one line. */
export class StatusUnavailableError extends Error {
  override readonly name = 'StatusUnavailableError';
}

/** The agent's last state as it wrote it to the state directory. */
export function readStatusFile(stateDir: string): { path: string; status: StatusFile } {
  const path = controlFilePath(stateDir, CONTROL_FILES.status);
  let raw: unknown;
  try {
    raw = readControlFile(path);
  } catch (err) {
    throw new StatusUnavailableError(`cannot read ${path}: ${(err as Error).message}`);
  }
  if (raw === null) throw new StatusUnavailableError(`no status at ${path}: the agent has not run with this state directory`);
  const r = statusFileSchema.safeParse(raw);
  if (!r.success) throw new StatusUnavailableError(`${path} is not a status file of this agent version`);
  return { path, status: r.data };
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function duration(s: number): string {
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${Math.floor(s % 60)}s`].filter(Boolean);
  return parts.slice(0, 3).join(' ');
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Human-readable status, one fact per line. */
export function formatStatus(s: StatusFile, alive: boolean, now: Date = new Date()): string {
  const age = Math.max(0, (now.getTime() - Date.parse(s.updated_at)) / 1000);
  const running = alive ? `running (pid ${s.pid})` : 'not running';
  const err = s.config_error;
  const lines: [string, string][] = [
    ['agent', `fleetprobe ${s.agent_version}, device ${s.device}, ${running}; status from ${duration(age)} ago`],
    ['monitoring', `${s.monitoring_enabled ? 'enabled' : 'disabled (stopped)'}, ${s.probes} probe(s)`],
    ['config', s.config_source === 'remote' ? `remote, version ${s.config_version}` : 'local file'],
    ['config error', err ? `version ${err.version ?? '?'}: ${err.path ? `${err.path}: ` : ''}${err.reason} (at ${err.at})` : 'none'],
    ['outbox', `${s.outbox.rows} result(s), ${bytes(s.outbox.bytes)}${s.outbox.oldest ? `, oldest ${s.outbox.oldest}` : ''}`],
    ['dropped', String(s.dropped_total)],
    ['last delivery', s.last_delivery ?? 'never'],
    ['last error', s.last_error ? `${s.last_error.message} (at ${s.last_error.at})` : 'none'],
    ['uptime', duration(s.uptime_s)],
    ['skipped rounds', String(s.skipped_rounds)],
    ['rejected messages', String(s.rejected_messages)],
  ];
  const width = Math.max(...lines.map(([k]) => k.length)) + 1;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`).join('\n');
}
