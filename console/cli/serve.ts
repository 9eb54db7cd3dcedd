import { parseCommandArgs } from '../../agent/cli/args.js';
import { UsageError } from '../../agent/cli/errors.js';
import { LineLogger, colourWanted } from '../../agent/service/line-logger.js';
import { agentVersion } from '../../agent/version.js';
import { defaultStateDir, loadConsoleConfig, parseConsoleConfig } from '../config.js';
import { LOCAL_AGENT_ID, LocalAgent } from '../local-agent.js';
import { startConsole } from '../main.js';
import type { Out } from './fleet-commands.js';

function portFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`--${name}: expected a port 0..65535, got "${v}"`);
  return n;
}

/** `fleetprobe-console serve`: runs until SIGINT or SIGTERM. */
export async function serve(argv: string[], io: { stdout: Out; stderr: NodeJS.WritableStream & { isTTY?: boolean }; env: NodeJS.ProcessEnv }): Promise<number> {
  const { values } = parseCommandArgs(argv, {
    config: { type: 'string' },
    'state-dir': { type: 'string' },
    'http-host': { type: 'string' },
    'http-port': { type: 'string' },
    'mqtt-host': { type: 'string' },
    'mqtt-port': { type: 'string' },
    broker: { type: 'string' },
    'broker-username': { type: 'string' },
    'local-agent': { type: 'boolean' },
    'log-level': { type: 'string' },
  });
  const file = loadConsoleConfig(values.config ?? io.env.FLEETPROBE_CONSOLE_CONFIG);
  const httpPort = portFlag('http-port', values['http-port']);
  const mqttPort = portFlag('mqtt-port', values['mqtt-port']);
  // Flags over the file, validated again by the same schema.
  const cfg = parseConsoleConfig(
    {
      ...stripDefaults(file),
      ...(values['log-level'] ? { log_level: values['log-level'] } : {}),
      http: { ...file.http, ...(values['http-host'] ? { host: values['http-host'] } : {}), ...(httpPort === undefined ? {} : { port: httpPort }) },
      broker: { ...file.broker, ...(values['mqtt-host'] ? { host: values['mqtt-host'] } : {}), ...(mqttPort === undefined ? {} : { port: mqttPort }) },
      ...(values.broker
        ? {
            external_broker: {
              ...file.external_broker, url: values.broker,
              ...(values['broker-username'] ? { username: values['broker-username'] } : {}),
              ...(io.env.FLEETPROBE_CONSOLE_BROKER_PASSWORD ? { password: io.env.FLEETPROBE_CONSOLE_BROKER_PASSWORD } : {}),
            },
          }
        : {}),
    },
    'flags',
  );
  const stateDir = values['state-dir'] ?? cfg.state_dir ?? defaultStateDir(io.env);
  if (values['local-agent'] && cfg.external_broker) throw new UsageError('--local-agent needs the embedded broker (not --broker)');
  const logger = new LineLogger(io.stderr, cfg.log_level, { colour: colourWanted(io.env) });
  let running;
  try {
    running = await startConsole({ ...cfg, state_dir: stateDir }, logger);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (e.code === 'EADDRINUSE') throw new UsageError(`port ${e.port} on ${e.address} is in use (another console or broker?): choose others with --http-port / --mqtt-port`);
    if (e.code === 'EACCES' || e.code === 'EROFS') throw new UsageError(`cannot use the state directory ${stateDir}: ${e.code} (choose one with --state-dir)`);
    throw err;
  }
  let agent: LocalAgent | null = null;
  const lines = [
    `fleetprobe-console ${agentVersion()} is running`,
    `  web UI:   ${running.httpUrl}/ui/  (log in with the admin token)`,
    `  API:      ${running.httpUrl}/api/  (e.g. curl -H "Authorization: Bearer <token>" ${running.httpUrl}/api/devices)`,
    running.newAdminToken
      ? `  login:    admin token ${running.newAdminToken}\n            (shown this once; also saved to ${stateDir}/admin-token for the CLI on this machine)`
      : cfg.admin_token
        ? '  login:    the admin_token from the console config'
        : `  login:    the admin token created at first start (${stateDir}/admin-token, unless you removed it; \`fleetprobe-console token reset\` makes a new one)`,
    `  devices:  ${running.mqttUrls.join(', ') || '(external broker)'}`,
  ];
  if (values['local-agent']) {
    if (running.mqttPort === null) {
      await running.stop();
      throw new UsageError('--local-agent needs the plain MQTT listener (broker.port is null)');
    }
    const url = `mqtt://127.0.0.1:${running.mqttPort}`;
    agent = new LocalAgent({ stateDir, mqttUrl: url, fleet: running.fleet, deviceExists: async (id) => (await running.fleet.registry.exists(id)), logger });
    await agent.start();
    lines.push(`  local agent: "${LOCAL_AGENT_ID}" probing 127.0.0.1 and ::1 every 10 s (config ${agent.configFile})`);
    lines.push(`  results:  ${running.httpUrl}/api/devices/${LOCAL_AGENT_ID}/results  or  fleetprobe-console --state-dir ${stateDir} results ${LOCAL_AGENT_ID}`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  logger.info('stopping');
  await agent?.stop();
  await running.stop();
  return 0;
}

/** The parsed file with defaults in; parsing again is idempotent, so nothing to strip but undefined. */
function stripDefaults<T extends object>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}
