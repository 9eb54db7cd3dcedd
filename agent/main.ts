import { readFileSync } from 'node:fs';
import { parseCommandArgs } from './cli/args.js';
import { EXIT, UsageError } from './cli/errors.js';
import { parseProbeArgs, PROBE_USAGE } from './cli/probe-args.js';
import { runProbeCommand } from './cli/probe-command.js';
import { ConfigError, configPath, loadConfigFile, resolveSettings } from './config/load.js';
import { parseJsonc } from './config/jsonc.js';
import { RESTART_EXIT_CODE } from './control/commands.js';
import { formatConfigShow, showConfig } from './control/config-show.js';
import { ControlLayer } from './control/control-layer.js';
import { formatStatus, processAlive, readStatusFile, StatusUnavailableError } from './control/status-output.js';
import type { ClockStatus } from './core/clock.js';
import { PrivilegeError } from './core/probe.js';
import { loadNativeAddon } from './native/addon.js';
import { formatOutboxStats } from './cli/outbox-output.js';
import { OutboxError } from './outbox/errors.js';
import { exportOutbox, readOutboxStats } from './outbox/read-only.js';
import { openOutbox } from './outbox/sqlite-outbox.js';
import { EngineClient } from './probe/icmp/engine-client.js';
import { IcmpProber } from './probe/icmp/icmp-prober.js';
import { Resolver } from './probe/resolve.js';
import { Scheduler } from './schedule/scheduler.js';
import { AgentService } from './service/agent-service.js';
import { colourWanted, journalStream, LineLogger } from './service/line-logger.js';
import { NtpClock } from './service/ntp-clock.js';
import { WatchedOutbox } from './service/outbox-watch.js';
import { createSupervisor, type ServiceSupervisor } from './service/supervisor.js';
import { createTransport, Drainer, generateDeviceKeys, KeyFileExistsError, UplinkConfigError } from './uplink/index.js';
import { agentVersion, RELEASE_FLOOR } from './version.js';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const USAGE = `Usage: fleetprobe <command> [options]

Commands:
  probe [options] <target...>   one-shot ICMP rounds with ping-style output
  run [--config <file>]         run the agent: probe on schedule, buffer, send over MQTT
  status [--json]               the agent's state: config, monitoring, outbox, errors
  config check [<file>]         validate a config file without running anything
  config show [--json]          the effective config and where each part came from
  outbox stats [--json]         what the local buffer holds (rows, bytes, oldest, dropped, ...)
  outbox export --ndjson        every buffered result, oldest first, one JSON object per line
  keys generate --out <dir>     make the device's ES256 key pair; prints the public key

The config file is --config <file>, else $FLEETPROBE_CONFIG, else /etc/fleetprobe/config.json.

Options:
  -h, --help      show this help (also after a command)
  -V, --version   print the version`;

/** The composition root: builds every object a command needs and returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        io.stderr.write(`${USAGE}\n`);
        return EXIT.USAGE;
      case '-h':
      case '--help':
      case 'help':
        io.stdout.write(`${USAGE}\n`);
        return EXIT.OK;
      case '-V':
      case '--version':
        io.stdout.write(`fleetprobe ${agentVersion()}\n`);
        return EXIT.OK;
      case 'probe':
        return await probe(rest, io);
      case 'run':
        return await run(rest, io);
      case 'config':
        return configCommand(rest, io);
      case 'status':
        return statusCommand(rest, io);
      case 'outbox':
        return outboxCommand(rest, io);
      case 'keys':
        return keysCommand(rest, io);
      default:
        throw new UsageError(`unknown command '${command}' (try: fleetprobe --help)`);
    }
  } catch (err) {
    return reportError(err, io);
  }
}

/** Maps the errors a user can cause to one line each and an exit status; anything else is a bug. */
function reportError(err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof PrivilegeError) {
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return EXIT.NOPERM;
  }
  if (err instanceof ConfigError) {
    for (const p of err.problems) io.stderr.write(`fleetprobe: ${err.file}: ${p}\n`);
    return EXIT.CONFIG;
  }
  if (err instanceof UplinkConfigError) {
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return EXIT.CONFIG;
  }
  if (err instanceof KeyFileExistsError) {
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return EXIT.CANTCREAT;
  }
  if (err instanceof OutboxError) {
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return EXIT.CANTCREAT;
  }
  throw err;
}

async function probe(argv: readonly string[], io: Io): Promise<number> {
  const opts = parseProbeArgs(argv);
  if (opts === 'help') {
    io.stdout.write(`${PROBE_USAGE}\n`);
    return EXIT.OK;
  }
  const logger = new LineLogger(io.stderr);
  const engine = new EngineClient();
  const prober = new IcmpProber(engine, new Resolver());
  const interrupted = new AbortController();
  const onSignal = (): void => interrupted.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    await engine.start();
    return await runProbeCommand(opts, { prober, scheduler: new Scheduler(logger), logger, stdout: io.stdout }, interrupted.signal);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await prober.close();
  }
}

function configCommand(argv: readonly string[], io: Io): number {
  const [sub, ...rest] = argv;
  if (sub === 'show') return configShow(rest, io);
  if (sub !== 'check') throw new UsageError(sub === undefined ? 'config: missing subcommand (check, show)' : `config: unknown subcommand '${sub}'`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' } }, 1);
  const file = positionals[0] ?? configPath(values.config, io.env);
  const config = loadConfigFile(file);
  io.stdout.write(`${file}: ok (${config.probes.length} probe(s), uplink ${config.uplink?.profile ?? 'none'})\n`);
  return EXIT.OK;
}

/** The effective config (file, persisted remote config, start/stop) and where each part came from. */
function configShow(argv: readonly string[], io: Io): number {
  const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  const file = configPath(values.config, io.env);
  const config = loadConfigFile(file);
  const { stateDir } = resolveSettings(config, io.env);
  const show = showConfig(config, parseJsonc(readFileSync(file, 'utf8')), stateDir);
  io.stdout.write(values.json ? `${JSON.stringify({ file, state_dir: stateDir, ...show })}\n` : `# ${file}, state ${stateDir}\n${formatConfigShow(show)}\n`);
  return EXIT.OK;
}

/** The running agent's state, from the status file it keeps in the state directory. */
function statusCommand(argv: readonly string[], io: Io): number {
  const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } });
  const config = loadConfigFile(configPath(values.config, io.env));
  const { stateDir } = resolveSettings(config, io.env);
  let status;
  try {
    status = readStatusFile(stateDir).status;
  } catch (err) {
    if (!(err instanceof StatusUnavailableError)) throw err;
    io.stderr.write(`fleetprobe: ${err.message}\n`);
    return EXIT.FAILED;
  }
  const running = processAlive(status.pid);
  io.stdout.write(values.json ? `${JSON.stringify({ ...status, running })}\n` : `${formatStatus(status, running)}\n`);
  return EXIT.OK;
}

const STOP_TIMEOUT_MS = 20_000;

function outboxCommand(argv: readonly string[], io: Io): number {
  const [sub, ...rest] = argv;
  if (sub !== 'stats' && sub !== 'export') throw new UsageError(sub === undefined ? 'outbox: missing subcommand (stats, export)' : `outbox: unknown subcommand '${sub}'`);
  const { values } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, ndjson: { type: 'boolean' } });
  const config = loadConfigFile(configPath(values.config, io.env));
  const { outboxPath } = resolveSettings(config, io.env);
  if (sub === 'stats') {
    const stats = readOutboxStats(outboxPath);
    io.stdout.write(values.json ? `${JSON.stringify({ path: outboxPath, ...stats })}\n` : `${formatOutboxStats(outboxPath, stats)}\n`);
    return EXIT.OK;
  }
  if (!values.ndjson) throw new UsageError('outbox export: say --ndjson (the only format so far)');
  exportOutbox(outboxPath, (line) => io.stdout.write(`${line}\n`));
  return EXIT.OK;
}

function keysCommand(argv: readonly string[], io: Io): number {
  const [sub, ...rest] = argv;
  if (sub !== 'generate') throw new UsageError(sub === undefined ? 'keys: missing subcommand (generate)' : `keys: unknown subcommand '${sub}'`);
  const { values } = parseCommandArgs(rest, { out: { type: 'string', short: 'o' } });
  if (!values.out) throw new UsageError('keys generate: --out <dir> is required');
  const keys = generateDeviceKeys(values.out);
  io.stderr.write(`fleetprobe: wrote ${keys.privateKeyPath} (keep it secret) and ${keys.publicKeyPath}; register this public key for the device:\n`);
  io.stdout.write(keys.publicKeyPem);
  return EXIT.OK;
}

/** Resolves on the first SIGTERM or SIGINT. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string): void => {
      process.off('SIGTERM', on).off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on).on('SIGINT', on);
  });
}

async function run(argv: readonly string[], io: Io): Promise<number> {
  const { values } = parseCommandArgs(argv, { config: { type: 'string', short: 'c' } });
  const file = configPath(values.config, io.env);
  const config = loadConfigFile(file);
  const { deviceId, stateDir, outboxPath } = resolveSettings(config, io.env);
  // fd 2 is io.stderr in the real process; $JOURNAL_STREAM says whether it is the journal.
  const logger = new LineLogger(io.stderr, config.log_level, { journal: journalStream(io.env, 2), colour: colourWanted(io.env) });
  const native = loadNativeAddon();
  const clock: ClockStatus = config.clock.assume_synced ? { synced: () => true } : new NtpClock(() => native.ntpSynced(), RELEASE_FLOOR);
  const stopped = stopSignal();
  // systemd's watchdog kills with SIGABRT, which conf's when-exit hook (via atomically)
  // catches and survives: abort for real, so that a hung agent is restarted at once.
  process.on('SIGABRT', () => process.abort());
  const outbox = openOutbox({ path: outboxPath, max_mb: config.outbox.max_mb, max_age_days: config.outbox.max_age_days, synchronous: config.outbox.synchronous, logger });
  const engine = new EngineClient();
  const prober = new IcmpProber(engine, new Resolver());
  // The probe loop's appends, watched for the health check behind the systemd watchdog.
  const watched = new WatchedOutbox(outbox);
  let supervisor: ServiceSupervisor | null = null;
  try {
    await engine.start();
    const transport = config.uplink ? createTransport(config.uplink, { deviceId, logger, clock }) : null;
    const drainer = transport && config.uplink
      ? new Drainer({ outbox, transport, deviceId, batchMax: config.uplink.batch_max, inflightMax: config.uplink.inflight_max, logger })
      : null;
    const agent = new AgentService({ prober, scheduler: new Scheduler(logger), outbox: watched, drain: drainer, clock, logger });
    // The effective config: remote (persisted in the state directory) over the file's.
    const control = new ControlLayer({
      config, stateDir, deviceId, agentVersion: agentVersion(), agent, outbox, drain: drainer, transport, clock, logger,
      uplinkError: () => {
        const s = drainer?.stats();
        return s?.last_error && s.last_error_at ? { at: s.last_error_at, message: `uplink: ${s.last_error}` } : null;
      },
    });
    agent.start(control.state.ops, control.state.guard());
    control.start();
    transport?.start();
    logger.info(`fleetprobe ${agentVersion()} running as device ${deviceId}; outbox ${outboxPath} (stream ${outbox.stream}); uplink ${config.uplink?.profile ?? 'none (buffering only)'}; config from ${control.state.source === 'remote' ? `remote version ${control.state.version}` : file}`);
    if (!clock.synced()) logger.warn('system clock is not NTP-synchronized: results carry clock_synced=false until it is');
    // READY=1 now: the outbox is open and the engine runs; the broker is not waited for.
    supervisor = createSupervisor({ env: io.env, pid: process.pid, send: (path, msg) => native.notify(path, msg), agent, outbox: watched, transport, clock, logger });
    supervisor.ready();
    const why = await Promise.race([stopped, control.restartRequested.then(() => 'restart' as const)]);
    supervisor.stopping(why === 'restart' ? 'restarting (remote restart command): finishing rounds in flight' : 'stopping: finishing rounds in flight');
    logger.info(why === 'restart' ? `restart command: stopping, exit status ${RESTART_EXIT_CODE} has systemd start the agent again` : `${why}: stopping (rounds in flight are finished and stored)`);
    const graceful = (async () => {
      await control.stop();
      await agent.stop();
      await transport?.stop();
      return true;
    })();
    // Bounded, well inside systemd's TimeoutStopSec; a second signal ends it at once.
    const forced = Promise.race([new Promise<false>((r) => setTimeout(() => r(false), STOP_TIMEOUT_MS).unref()), stopSignal().then(() => false as const)]);
    if (!(await Promise.race([graceful, forced]))) {
      logger.error('graceful stop did not finish in time: exiting anyway (stored results are safe)');
      return EXIT.SOFTWARE;
    }
    return why === 'restart' ? RESTART_EXIT_CODE : EXIT.OK;
  } finally {
    supervisor?.close();
    await prober.close();
    outbox.close();
  }
}
