import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentVersion } from '../agent/version.js';
import type { Logger } from '../agent/core/logger.js';
import { AdminAuth, ADMIN_TOKEN_META, generateToken, tokenHash } from './api/admin-auth.js';
import { HttpApi } from './api/http-server.js';
import { createConsoleUi } from './http/ui-routes.js';
import { apiRoutes } from './api/routes.js';
import { DeviceAuthenticator } from './auth/device-auth.js';
import { mosquittoHash } from './auth/passwords.js';
import type { Bus } from './broker/bus.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import { ExternalBus } from './broker/external-bus.js';
import { mosquittoFiles } from './broker/mosquitto-files.js';
import type { ConsoleConfig } from './config.js';
import { Fleet } from './fleet/fleet.js';
import { SqliteStore } from './store/sqlite-store.js';
import { consoleTopics } from './topics.js';

// The composition root: reads nothing global, builds every object from the config and
// passes dependencies in. `fleetprobe-console serve` and the tests both start it here.

export interface RunningConsole {
  httpUrl: string;
  /** Where devices connect (embedded broker), e.g. mqtt://127.0.0.1:1883. */
  mqttUrls: string[];
  mqttPort: number | null;
  /** Set only when this start created the admin token: show it once. */
  newAdminToken: string | null;
  stateDir: string;
  fleet: Fleet;
  /** The API's routes (every one of them requires the admin token). */
  routes(): Array<{ method: string; pattern: string }>;
  stop(): Promise<void>;
}

export async function startConsole(cfg: ConsoleConfig & { state_dir: string }, logger: Logger, now: () => number = Date.now): Promise<RunningConsole> {
  mkdirSync(cfg.state_dir, { recursive: true, mode: 0o700 });
  const store = SqliteStore.open({ path: cfg.store.path ?? join(cfg.state_dir, 'console.db'), synchronous: cfg.store.synchronous });
  const cleanup: Array<() => Promise<void>> = [() => store.close()];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanup.splice(0).reverse()) await c().catch((err: Error) => logger.error(`stop: ${err.message}`));
  };
  try {
    const topics = consoleTopics(cfg.topic_prefix);
    let newAdminToken: string | null = null;
    let hash: string;
    if (cfg.admin_token !== undefined) hash = tokenHash(cfg.admin_token);
    else {
      const stored = await store.getMeta(ADMIN_TOKEN_META);
      if (stored !== null) hash = stored;
      else {
        newAdminToken = generateToken();
        hash = tokenHash(newAdminToken);
        await store.setMeta(ADMIN_TOKEN_META, hash);
        // Like Jenkins' initialAdminPassword: readable by the console's user only, so that the
        // CLI on this machine finds it. Delete it once it is kept somewhere safer.
        writeFileSync(join(cfg.state_dir, 'admin-token'), `${newAdminToken}\n`, { mode: 0o600 });
      }
    }

    const ext = cfg.external_broker;
    let bus: Bus;
    let embedded: EmbeddedBroker | null = null;
    let consoleUser: { username: string; mosquittoHash: string } | null = null;
    if (ext) {
      bus = new ExternalBus({
        url: ext.url, clientId: ext.client_id, topics, logger, username: ext.username,
        ...(ext.password === undefined ? {} : { password: ext.password }), ...(ext.ca_file === undefined ? {} : { caFile: ext.ca_file }),
      });
      if (ext.password !== undefined) consoleUser = { username: ext.username, mosquittoHash: await mosquittoHash(ext.password) };
    } else {
      const auth = new DeviceAuthenticator({ store, iotCore: cfg.broker.iot_core, now });
      bus = embedded = new EmbeddedBroker({
        host: cfg.broker.host, port: cfg.broker.port, topics, auth, logger,
        tls: cfg.broker.tls ? { port: cfg.broker.tls.port, certFile: cfg.broker.tls.cert_file, keyFile: cfg.broker.tls.key_file } : null,
      });
    }

    let writing = Promise.resolve();
    const writeMosquittoFiles = (): void => {
      if (!ext?.mosquitto_password_file && !ext?.mosquitto_acl_file) return;
      writing = writing.then(async () => {
        const f = mosquittoFiles(await store.devices(), consoleUser, cfg.topic_prefix);
        if (ext.mosquitto_password_file) writeFileSync(ext.mosquitto_password_file, f.passwordFile, { mode: 0o600 });
        if (ext.mosquitto_acl_file) writeFileSync(ext.mosquitto_acl_file, f.aclFile, { mode: 0o644 });
        if (ext.mosquitto_password_file) chmodSync(ext.mosquitto_password_file, 0o600);
        logger.info(`mosquitto files written (${f.skipped.length} key-only device(s) left out); reload Mosquitto (SIGHUP) to apply`);
      }).catch((err: Error) => logger.error(`cannot write the mosquitto files: ${err.message}`));
    };

    const fleet = new Fleet({ store, bus, topics, logger, now, registryChanged: writeMosquittoFiles });
    writeMosquittoFiles();
    await writing;
    await bus.start(fleet.handlers);
    cleanup.push(() => fleet.stop());
    cleanup.push(() => bus.stop());
    fleet.start();

    const router = apiRoutes({
        store, fleet, bus, now, version: agentVersion(), mosquittoConsoleUser: consoleUser, topicPrefix: cfg.topic_prefix, topicsFor: (id) => topics.forDevice(id),
      deviceEndpoints: () => ({ mqtt: bus.stats().endpoints, iot_core: ext ? null : cfg.broker.iot_core }),
    });
    const adminAuth = new AdminAuth(hash);
    const ui = createConsoleUi({ store, now, checkAdmin: (secret) => adminAuth.check({ headers: { authorization: `Bearer ${secret}` } }) });
    const api = new HttpApi({
      router,
      auth: ui.sessionOrToken(adminAuth),
      logger,
      ui,
    });
    const httpPort = await api.listen(cfg.http.host, cfg.http.port);
    cleanup.push(() => api.close());
    const host = cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host;
    const httpUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${httpPort}`;
    // For the CLI on this machine: where the running console listens.
    writeFileSync(join(cfg.state_dir, 'console.json'), `${JSON.stringify({ url: httpUrl, pid: process.pid })}\n`, { mode: 0o600 });
    return {
      httpUrl,
      mqttUrls: bus.stats().endpoints,
      mqttPort: embedded?.ports.plain ?? null,
      newAdminToken,
      stateDir: cfg.state_dir,
      fleet,
      routes: () => router.list(),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
