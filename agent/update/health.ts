import { z } from 'zod';
import { safeParseJson } from '../control/safe-json.js';
import { PinnedDir, UnsafeFileError } from './files.js';
import type { CommandRunner } from './installer.js';
import { spawnRunner } from './installer.js';

export interface Health {
  healthy: boolean;
  /** What is missing, for the result when the agent never gets healthy. */
  why: string;
}

/** Is the agent of `version` up, and did it report since `sinceMs` (epoch ms)? */
export interface HealthCheck {
  check(version: string, sinceMs: number): Promise<Health>;
  /**
   * After every install and rollback: the agent's unit is started even if the release before
   * used up its start limit (a crash-looping agent leaves it failed, and the postinst's
   * restart is then refused).
   */
  startAgent(): Promise<void>;
}

export interface ServiceState {
  /** Type=notify: "active" only after the agent sent READY=1. */
  active: boolean;
  /** The service's main pid, when known. */
  mainPid: number | null;
  detail: string;
}

/** The service manager's view of the agent's unit. */
export interface ServiceProbe {
  state(): Promise<ServiceState>;
  /** reset-failed, then start (a no-op when it runs). */
  start(): Promise<void>;
}

/** `systemctl show fleetprobe.service` (ActiveState, SubState, MainPID). */
export class SystemctlProbe implements ServiceProbe {
  constructor(
    private readonly unit = 'fleetprobe.service',
    private readonly run: CommandRunner = spawnRunner,
  ) {}

  async start(): Promise<void> {
    await this.run('systemctl', ['reset-failed', this.unit], { timeoutMs: 30_000 });
    await this.run('systemctl', ['start', '--no-block', this.unit], { timeoutMs: 30_000 });
  }

  async state(): Promise<ServiceState> {
    const out = await this.run('systemctl', ['show', '-p', 'ActiveState,SubState,MainPID', this.unit], { timeoutMs: 30_000 });
    const prop = (k: string): string => new RegExp(`^${k}=(.*)$`, 'm').exec(out.stdout)?.[1] ?? '';
    const pid = Number(prop('MainPID'));
    return { active: out.code === 0 && prop('ActiveState') === 'active', mainPid: pid > 0 ? pid : null, detail: `${this.unit} ${prop('ActiveState') || 'unknown'}/${prop('SubState') || 'unknown'}` };
  }
}

/** The few fields of the agent's status.json that the check reads (the file is the agent's: bounded, validated). */
const statusSchema = z.object({ agent_version: z.string().max(64), updated_at: z.string().max(64), pid: z.number().int().optional() });
const STATUS_MAX_BYTES = 256 * 1024;

/**
 * Healthy: the unit is active (READY=1 reached) and the agent of the new version wrote its
 * status file since the install (it loaded its config, opened the outbox, runs its control
 * layer), from the unit's main pid when systemd names one.
 */
export class AgentHealth implements HealthCheck {
  constructor(
    private readonly stateDir: string,
    private readonly agentUid: number,
    private readonly service: ServiceProbe,
  ) {}

  startAgent(): Promise<void> {
    return this.service.start();
  }

  async check(version: string, sinceMs: number): Promise<Health> {
    const svc = await this.service.state();
    if (!svc.active) return { healthy: false, why: `${svc.detail} (not active: READY not reached or the agent exited)` };
    let raw: Buffer | null;
    try {
      const dir = PinnedDir.open(this.stateDir, { ownerUid: this.agentUid });
      try {
        raw = dir.read('status.json', { maxBytes: STATUS_MAX_BYTES, ownerUid: this.agentUid });
      } finally {
        dir.close();
      }
    } catch (err) {
      const msg = err instanceof UnsafeFileError ? err.message : (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return { healthy: false, why: `status file unusable: ${msg}` };
    }
    if (raw === null) return { healthy: false, why: 'the agent has written no status file' };
    const parsed = safeParseJson(raw, { maxBytes: STATUS_MAX_BYTES, maxDepth: 16 });
    const status = parsed.ok ? statusSchema.safeParse(parsed.value) : null;
    if (!status?.success) return { healthy: false, why: 'the status file is not the agent\'s status' };
    const s = status.data;
    if (s.agent_version !== version) return { healthy: false, why: `the status file says version ${s.agent_version.replace(/[^\x20-\x7e]/g, '?')}, not ${version}` };
    const at = Date.parse(s.updated_at);
    if (!(at >= sinceMs)) return { healthy: false, why: 'the status file was not updated since the install' };
    if (svc.mainPid !== null && s.pid !== svc.mainPid) return { healthy: false, why: `the status file is from pid ${s.pid ?? 'none'}, the service runs pid ${svc.mainPid}` };
    return { healthy: true, why: 'active, status fresh' };
  }
}
