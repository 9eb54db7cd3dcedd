import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigInput } from '../agent/config/schema.js';
import type { Logger } from '../agent/core/logger.js';
import { RESTART_EXIT_CODE } from '../agent/control/commands.js';
import type { Fleet } from './fleet/fleet.js';

// `serve --local-agent`: the real agent (`fleetprobe run`) as a child of the console,
// registered to it with a fresh password at every start, probing 127.0.0.1 and ::1. Its
// log lines go to the console's log with an "agent:" prefix.

export const LOCAL_AGENT_ID = 'local-agent';
const AGENT_BIN = fileURLToPath(new URL('../agent/bin/fleetprobe.js', import.meta.url));
const NO_CAP_NET_RAW = 77;

export interface LocalAgentOptions {
  stateDir: string;
  mqttUrl: string;
  fleet: Pick<Fleet, 'registry'>;
  deviceExists: (id: string) => Promise<boolean>;
  logger: Logger;
}

export class LocalAgent {
  private child: ChildProcess | null = null;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  configFile = '';

  constructor(private readonly opts: LocalAgentOptions) {}

  async start(): Promise<void> {
    const { fleet, stateDir } = this.opts;
    const password = (await this.opts.deviceExists(LOCAL_AGENT_ID))
      ? await fleet.registry.resetPassword(LOCAL_AGENT_ID)
      : (await fleet.registry.register([{ id: LOCAL_AGENT_ID, generate_password: true }]))[0]!.password ?? null;
    if (password === null) throw new Error('could not set the local agent password');
    const dir = join(stateDir, LOCAL_AGENT_ID);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const config: ConfigInput = {
      device: { id: LOCAL_AGENT_ID },
      state_dir: dir,
      log_level: 'info',
      clock: { assume_synced: true },
      agent_operations: { probe_interval: 10 },
      probes: [
        { name: 'loopback-v4', ip_address: '127.0.0.1', count: 5, interval_ms: 200, timeout_ms: 1000 },
        { name: 'loopback-v6', ip_address: '::1', count: 5, interval_ms: 200, timeout_ms: 1000 },
      ],
      uplink: { profile: 'mqtt', url: this.opts.mqttUrl, username: LOCAL_AGENT_ID, password },
      // Remote config for this agent may name loopback (the safety policy refuses it otherwise).
      safety: { allow_cidrs: ['127.0.0.0/8', '::1/128'] },
      state_interval: 30,
    };
    this.configFile = join(dir, 'config.json');
    writeFileSync(this.configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    this.spawn();
  }

  private spawn(): void {
    const { logger } = this.opts;
    // Its own process group: a Ctrl-C in the terminal reaches the console only, which then
    // stops the agent in order (agent first, broker after), not both at once.
    const child = spawn(process.execPath, [AGENT_BIN, 'run', '--config', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, detached: true });
    this.child = child;
    const orphan = (): void => void child.kill('SIGKILL');
    process.once('exit', orphan);
    child.once('exit', () => process.off('exit', orphan));
    let buf = '';
    const line = (d: Buffer): void => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l !== '') logger.info(`agent: ${l.replace(/^(info|debug): /, '')}`);
    };
    child.stdout!.on('data', line);
    child.stderr!.on('data', line);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.child = null;
        resolve();
        if (this.stopping) return;
        if (code === RESTART_EXIT_CODE) {
          logger.info('agent: restarting after a restart command');
          this.spawn();
        } else if (code === NO_CAP_NET_RAW) {
          logger.error('the local agent needs CAP_NET_RAW to send ICMP: run `npm start` as root (or give node the capability: sudo setcap cap_net_raw+ep "$(command -v node)"); the console keeps running without it');
        } else logger.error(`the local agent exited (${signal ?? `status ${code}`}); the console keeps running`);
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (c) {
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}
