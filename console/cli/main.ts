import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseCommandArgs } from '../../agent/cli/args.js';
import { UsageError } from '../../agent/cli/errors.js';
import { agentVersion } from '../../agent/version.js';
import { ADMIN_TOKEN_META, generateToken, tokenHash } from '../api/admin-auth.js';
import { ConsoleConfigError, defaultStateDir } from '../config.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { ApiClient, ApiError, clientSettings } from './client.js';
import { runFleetCommand, type Out } from './fleet-commands.js';
import { serve } from './serve.js';

export const HELP = `usage: fleetprobe-console [--state-dir DIR] [--url URL] [--token T | --token-file F] <command>

  serve [--config FILE] [--http-host H] [--http-port N] [--mqtt-host H] [--mqtt-port N]
        [--broker mqtt(s)://host:port [--broker-username U]] [--local-agent] [--log-level L]
      run the console: HTTP API (127.0.0.1:8080), embedded MQTT broker (127.0.0.1:1883) or an
      external one (password from FLEETPROBE_CONSOLE_BROKER_PASSWORD), SQLite store;
      --local-agent also runs a local fleetprobe agent probing 127.0.0.1 and ::1
  token reset                         new admin token (restart the console to use it)

  devices list [--json]               every device: online, last seen, agent, config, outbox
  devices show ID
  devices add ID [--password P] [--generate-password] [--public-key PEM_FILE]...
  devices import FILE.csv             columns id[,password][,public_key]; all or nothing
  devices password ID                 a new generated password
  devices remove ID                   forget the device and its data, end its connection
  config show ID
  config check ID FILE                validate with the agent's schema, do not push
  config push ID FILE                 {version?, agent_operations, probes}; retained, QoS 1
  command ID NAME [--args JSON] [--wait S] [--expires-in S]
                                      start, stop, probe-now, drain, restart, update
  commands ID                         recent commands and their replies
  results ID [--target T] [--from T] [--to T] [--limit N]
  history ID [--target T] [--from T] [--to T] [--resolution auto|raw|300|3600]
                                      times: ISO 8601, epoch ms, or --from=-7d
  mosquitto-files --password-file F --acl-file F
                                      the registry as Mosquitto's password_file and acl_file

The client commands use the API: --url (or FLEETPROBE_CONSOLE_URL; default: the console
running from the state directory) and --token (or FLEETPROBE_CONSOLE_TOKEN, --token-file;
default: DIR/admin-token).
`;

const CLIENT_COMMANDS = ['devices', 'config', 'command', 'commands', 'results', 'history', 'mosquitto-files'];

export interface Io {
  stdout: Out;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export async function main(argv: string[], io: Io): Promise<number> {
  try {
    // Global options before the command.
    const { tokens } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } }, strict: false, allowPositionals: true, tokens: true });
    const first = tokens.find((t) => t.kind === 'positional');
    const cut = first ? first.index : argv.length;
    const { values: g } = parseCommandArgs(argv.slice(0, cut), { 'state-dir': { type: 'string' }, url: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' } });
    const [cmd, ...rest] = argv.slice(cut);
    if (g.version) {
      io.stdout.write(`fleetprobe-console ${agentVersion()}\n`);
      return 0;
    }
    if (g.help || cmd === undefined || cmd === 'help') {
      io.stdout.write(HELP);
      return cmd === undefined && !g.help ? 2 : 0;
    }
    const stateDir = g['state-dir'] ?? io.env.FLEETPROBE_CONSOLE_STATE_DIR ?? defaultStateDir(io.env);
    if (cmd === 'serve') return await serve(g['state-dir'] ? ['--state-dir', g['state-dir'], ...rest] : rest, io);
    if (cmd === 'token') {
      if (rest[0] !== 'reset' || rest.length > 1) throw new UsageError('expected: token reset');
      return tokenReset(stateDir, io);
    }
    if (!CLIENT_COMMANDS.includes(cmd)) throw new UsageError(`unknown command "${cmd}" (see fleetprobe-console --help)`);
    const api = new ApiClient(clientSettings({ ...(g.url ? { url: g.url } : {}), ...(g.token ? { token: g.token } : {}), ...(g['token-file'] ? { tokenFile: g['token-file'] } : {}) }, io.env, stateDir));
    if (cmd === 'mosquitto-files') {
      const { values } = parseCommandArgs(rest, { 'password-file': { type: 'string' }, 'acl-file': { type: 'string' } });
      if (!values['password-file'] || !values['acl-file']) throw new UsageError('expected --password-file F --acl-file F');
      writeFileSync(values['password-file'], String((await api.call('GET', '/api/mosquitto/passwd')).body), { mode: 0o600 });
      writeFileSync(values['acl-file'], String((await api.call('GET', '/api/mosquitto/acl')).body), { mode: 0o644 });
      io.stdout.write(`wrote ${values['password-file']} and ${values['acl-file']}; reload Mosquitto (SIGHUP) to apply\n`);
      return 0;
    }
    return await runFleetCommand(api, cmd, rest, io.stdout);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`fleetprobe-console: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ApiError || err instanceof ConsoleConfigError) {
      io.stderr.write(`fleetprobe-console: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

async function tokenReset(stateDir: string, io: Io): Promise<number> {
  let store: SqliteStore;
  try {
    store = SqliteStore.open({ path: join(stateDir, 'console.db'), synchronous: 'full' });
  } catch (err) {
    throw new UsageError(`cannot open the console store in ${stateDir}: ${(err as Error).message}`);
  }
  const token = generateToken();
  try {
    await store.setMeta(ADMIN_TOKEN_META, tokenHash(token));
  } finally {
    await store.close();
  }
  writeFileSync(join(stateDir, 'admin-token'), `${token}\n`, { mode: 0o600 });
  io.stdout.write(`new admin token: ${token}\n(saved to ${stateDir}/admin-token; restart the console to use it)\n`);
  return 0;
}
