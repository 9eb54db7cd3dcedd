import { parseProbeArgs, PROBE_USAGE } from './cli/probe-args.js';
import { runProbeCommand } from './cli/probe-command.js';
import { EXIT, UsageError } from './cli/errors.js';
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
}

export const USAGE = `Usage: fleetprobe <command> [options]

Commands:
  probe [options] <target...>   one-shot ICMP rounds with ping-style output (--help for options)

Options:
  -h, --help      show this help
  -V, --version   print the version`;

/** The composition root: builds every object a command needs and returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const logger = new LineLogger(io.stderr);
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return command === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (command === '-V' || command === '--version') {
      io.stdout.write(`fleetprobe ${agentVersion()}\n`);
      return EXIT.OK;
    }
    if (command === 'probe') {
      const opts = parseProbeArgs(rest);
      if (opts === 'help') {
        io.stdout.write(`${PROBE_USAGE}\n`);
        return EXIT.OK;
      }
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
    throw new UsageError(`unknown command '${command}' (try: fleetprobe --help)`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`fleetprobe: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof PrivilegeError) {
      io.stderr.write(`fleetprobe: ${err.message}\n`);
      return EXIT.NOPERM;
    }
    throw err;
  }
}
