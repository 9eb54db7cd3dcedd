import { parseCommandArgs } from './cli/args.js';
import { EXIT, UsageError } from './cli/errors.js';
import { parseProbeArgs, PROBE_USAGE } from './cli/probe-args.js';
import { runProbeCommand } from './cli/probe-command.js';
import { ConfigError, configPath, loadConfigFile } from './config/load.js';
import { PrivilegeError } from './core/probe.js';
import { EngineClient } from './probe/icmp/engine-client.js';
import { IcmpProber } from './probe/icmp/icmp-prober.js';
import { Resolver } from './probe/resolve.js';
import { Scheduler } from './schedule/scheduler.js';
import { LineLogger } from './service/line-logger.js';
import { agentVersion } from './version.js';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export const USAGE = `Usage: fleetprobe <command> [options]

Commands:
  probe [options] <target...>   one-shot ICMP rounds with ping-style output
  config check [<file>]         validate a config file (default: --config, $FLEETPROBE_CONFIG,
                                or /etc/fleetprobe/config.json) without running anything

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
      case 'config':
        return configCommand(rest, io);
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
  if (sub !== 'check') throw new UsageError(sub === undefined ? 'config: missing subcommand (check)' : `config: unknown subcommand '${sub}'`);
  const { values, positionals } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' } }, 1);
  const file = positionals[0] ?? configPath(values.config, io.env);
  const config = loadConfigFile(file);
  io.stdout.write(`${file}: ok (${config.probes.length} probe(s), uplink ${config.uplink?.profile ?? 'none'})\n`);
  return EXIT.OK;
}
