// fleetprobe-update: the root half of the remote update, run by fleetprobe-update.service
// when fleetprobe-update.path sees the agent's request. One request per run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, configPath, DEFAULT_STATE_DIR, loadConfigFile } from '../config/load.js';
import { journalStream, LineLogger } from '../service/line-logger.js';
import { HttpsDownloader } from './download.js';
import { AgentHealth, SystemctlProbe } from './health.js';
import { AptInstaller } from './installer.js';
import { UPDATE_SUBDIR } from './protocol.js';
import { realClock, Updater } from './updater.js';

const DEFAULT_WORK_DIR = '/var/lib/fleetprobe-update';
const AGENT_USER = 'fleetprobe';

function agentUid(): number | null {
  const r = spawnSync('getent', ['passwd', AGENT_USER], { encoding: 'utf8' });
  const uid = Number(r.stdout?.split(':')[2]);
  return r.status === 0 && Number.isInteger(uid) ? uid : null;
}

async function main(): Promise<number> {
  const env = process.env;
  const err = (msg: string): void => void process.stderr.write(`fleetprobe-update: ${msg}\n`);
  let values: { config?: string | undefined; 'health-timeout-s'?: string | undefined };
  try {
    ({ values } = parseArgs({ options: { config: { type: 'string', short: 'c' }, 'health-timeout-s': { type: 'string' } }, allowPositionals: false }));
  } catch (e) {
    err((e as Error).message);
    return 2;
  }
  // How long a new agent has to become healthy (a drop-in may raise it for slow devices).
  const healthTimeoutS = Number(values['health-timeout-s'] ?? 120);
  if (!Number.isInteger(healthTimeoutS) || healthTimeoutS < 10 || healthTimeoutS > 3600) {
    err('--health-timeout-s: expected whole seconds, 10..3600');
    return 2;
  }
  if (process.getuid?.() !== 0) {
    err('must run as root (it installs packages): it is started by fleetprobe-update.path');
    return 77;
  }
  let config;
  try {
    config = loadConfigFile(configPath(values.config, env));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) err(`${e.file}: ${p}`);
    return 78;
  }
  const uid = agentUid();
  if (uid === null) {
    err(`no user ${AGENT_USER}: is the fleetprobe package installed?`);
    return 78;
  }
  const logger = new LineLogger(process.stderr, 'info', { journal: journalStream(env, 2), colour: false });
  // $STATE_DIRECTORY is this unit's own (StateDirectory=fleetprobe-update), not the agent's.
  const stateDir = config.state_dir ?? DEFAULT_STATE_DIR;
  const updater = new Updater({
    agentDir: join(stateDir, UPDATE_SUBDIR),
    agentUid: uid,
    workDir: env.STATE_DIRECTORY?.split(':')[0] ?? DEFAULT_WORK_DIR,
    publicKeyFile: config.update.public_key_file ?? null,
    downloader: new HttpsDownloader(),
    installer: new AptInstaller(),
    health: new AgentHealth(stateDir, uid, new SystemctlProbe()),
    clock: realClock,
    logger,
    healthTimeoutMs: healthTimeoutS * 1000,
  });
  const id = await updater.runOnce();
  if (id === 'idle') logger.info('update: no request');
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`fleetprobe-update: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
