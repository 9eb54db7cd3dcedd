// One harness per uplink profile and broker, so the same Transport tests run against each:
// the device connects through an MqttProxy (for faults), the "cloud side" observes what the
// device published and sends it config and commands.
import { after, before } from 'node:test';
import { iotCoreUplinkSchema, mqttUplinkSchema, type IotCoreUplinkConfig, type UplinkConfig } from '../../agent/config/schema.js';
import type { LogLevel, Logger } from '../../agent/core/logger.js';
import type { Transport } from '../../agent/core/uplink.js';
import { createTransport, type TransportDeps } from '../../agent/uplink/transport.js';
import { deviceTopics, type DeviceTopics } from '../../agent/uplink/topics.js';
import { generateDeviceKeys } from '../../agent/uplink/keys.js';
import { IotCoreBroker } from '../helpers/iot-core-broker.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProxy } from '../helpers/mqtt-proxy.js';
import type { ReceivedMessage } from '../helpers/mqtt-subscriber.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class CaptureLogger implements Logger {
  readonly lines: { level: LogLevel; message: string }[] = [];
  debug(m: string): void { this.lines.push({ level: 'debug', message: m }); }
  info(m: string): void { this.lines.push({ level: 'info', message: m }); }
  warn(m: string): void { this.lines.push({ level: 'warn', message: m }); }
  error(m: string): void { this.lines.push({ level: 'error', message: m }); }
  matching(re: RegExp, level?: LogLevel): string[] {
    return this.lines.filter((l) => (level === undefined || l.level === level) && re.test(l.message)).map((l) => l.message);
  }
}

export const syncedClock = { synced: () => true };

export interface Harness {
  name: string;
  profile: UplinkConfig['profile'];
  deviceId: string;
  topics: DeviceTopics;
  proxy: MqttProxy;
  /** The device's config, pointing at the proxy. */
  config(): UplinkConfig;
  transport(deps?: Partial<TransportDeps>, cfg?: UplinkConfig): { transport: Transport; logger: CaptureLogger };
  /** What the device published, as the cloud received it. */
  waitForPublish(topic: string, match?: (m: ReceivedMessage) => boolean, timeoutMs?: number): Promise<ReceivedMessage>;
  published(topic: string): ReceivedMessage[];
  sendControl(kind: 'config' | 'command', payload: string, subfolder?: string): Promise<void>;
  close(): Promise<void>;
}

export const FAST_TIMING = { backoffMinMs: 50, backoffMaxMs: 400, stableMs: 2000, connectTimeoutMs: 3000, clockPollMs: 50, drainTimeoutMs: 2000 };

function makeTransport(cfg: UplinkConfig, deviceId: string, deps: Partial<TransportDeps>): { transport: Transport; logger: CaptureLogger } {
  const logger = new CaptureLogger();
  const transport = createTransport(cfg, { deviceId, logger, clock: syncedClock, timing: FAST_TIMING, ...deps });
  return { transport, logger };
}

type MosquittoKind = 'plain' | 'tls' | 'mtls';

/** The mqtt profile against a real Mosquitto: plain, TLS with our CA and a password, or mTLS. */
export async function mosquittoHarness(kind: MosquittoKind, pki?: TestCa): Promise<Harness & { broker: Mosquitto }> {
  const deviceId = `pi-${kind}`;
  const broker = await Mosquitto.start({
    ...(kind === 'tls' ? { users: { [deviceId]: 'device-secret' } } : {}),
    ...(kind !== 'plain' ? { tls: { ca: pki!, requireClientCert: kind === 'mtls' } } : {}),
  });
  const proxy = await MqttProxy.start(kind === 'plain' ? broker.port : broker.tlsPort!);
  const prefix = kind === 'tls' ? 'fleet' : '';
  const topics = deviceTopics(deviceId, prefix);
  const observer = await broker.subscriber(['#']);
  const config = (): UplinkConfig => mqttUplinkSchema.parse({
    profile: 'mqtt',
    url: `${kind === 'plain' ? 'mqtt' : 'mqtts'}://127.0.0.1:${proxy.port}`,
    topic_prefix: prefix,
    ...(kind !== 'plain' ? { ca_file: pki!.caCert } : {}),
    ...(kind === 'tls' ? { username: deviceId, password: 'device-secret' } : {}),
    ...(kind === 'mtls' ? { cert_file: pki!.client.cert, key_file: pki!.client.key } : {}),
  });
  return {
    name: `mqtt profile, Mosquitto ${kind}`,
    profile: 'mqtt',
    deviceId,
    topics,
    proxy,
    broker,
    config,
    transport: (deps = {}, cfg = config()) => makeTransport(cfg, deviceId, deps),
    waitForPublish: (topic, match = () => true, timeoutMs = 5000) => observer.waitFor((m) => m.topic === topic && match(m), timeoutMs, `a message on ${topic}`),
    published: (topic) => observer.on(topic),
    sendControl: (k, payload, subfolder) => observer.publish(k === 'config' ? topics.config : `${topics.commandsFilter.slice(0, -2)}${subfolder ? `/${subfolder}` : ''}`, payload),
    close: async () => {
      await observer.close();
      await proxy.close();
      await broker.remove();
    },
  };
}

export const IOT = { project: 'fleet-proj', region: 'europe-west1', registry: 'pis' } as const;

/** The iot-core profile against the aedes stand-in for ClearBlade IoT Core. */
export async function iotCoreHarness(pki: TestCa, opts: { cloudNow?: () => number; extraKeys?: string[] } = {}): Promise<Harness & { broker: IotCoreBroker; keyDir: string }> {
  const deviceId = 'pi-iot';
  const keyDir = mkdtempSync(join(tmpdir(), 'fp-keys-'));
  const keys = generateDeviceKeys(keyDir);
  const broker = await IotCoreBroker.start({ pki, ...IOT, devices: { [deviceId]: [keys.publicKeyPem, ...(opts.extraKeys ?? [])] }, ...(opts.cloudNow ? { now: opts.cloudNow } : {}) });
  const proxy = await MqttProxy.start(broker.port);
  const topics = deviceTopics(deviceId);
  const config = (): IotCoreUplinkConfig => ({
    ...iotCoreUplinkSchema.parse({ profile: 'iot-core', host: '127.0.0.1', ...IOT, private_key_file: keys.privateKeyPath, ca_file: pki.caCert }),
    // The schema allows only IoT Core's ports; the test bridge listens on a free one.
    port: proxy.port as IotCoreUplinkConfig['port'],
  });
  const asReceived = (p: { topic: string; payload: Buffer; qos: number; retain: boolean }): ReceivedMessage => ({ topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain });
  const waitForPublish = async (topic: string, match: (m: ReceivedMessage) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = broker.publishes.map(asReceived).find((m) => m.topic === topic && match(m));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for a publish on ${topic}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    name: 'iot-core profile, aedes JWT bridge',
    profile: 'iot-core',
    deviceId,
    topics,
    proxy,
    broker,
    keyDir,
    config,
    transport: (deps = {}, cfg = config()) => makeTransport(cfg, deviceId, deps),
    waitForPublish,
    published: (topic) => broker.publishes.filter((p) => p.topic === topic).map(asReceived),
    sendControl: (k, payload, subfolder) => (k === 'config' ? broker.sendConfig(deviceId, payload) : broker.sendCommand(deviceId, payload, subfolder)),
    close: async () => {
      await proxy.close();
      await broker.close();
      rmSync(keyDir, { recursive: true, force: true });
    },
  };
}

/** A test CA for the file, made before its first test. */
export function usePki(ready: (pki: TestCa) => void): void {
  let pki: TestCa | undefined;
  before(async () => {
    pki = await createTestCa();
    ready(pki);
  });
  after(async () => {
    await pki?.remove();
  });
}

/** Resolves when the transport emits `event` (or is already in that state for 'connected'). */
export function once(t: Transport, event: 'connected' | 'disconnected', timeoutMs = 5000): Promise<string | void> {
  if (event === 'connected' && t.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (t.off(event, done), reject(new Error(`no ${event} within ${timeoutMs} ms`))), timeoutMs);
    const done = (reason?: string): void => {
      clearTimeout(timer);
      t.off(event, done);
      resolve(reason);
    };
    t.on(event, done);
  });
}

export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
