import type { IClientOptions } from 'mqtt';
import type { MqttUplinkConfig } from '../config/schema.js';
import { UplinkConfigError } from './errors.js';
import { DEFAULT_MAX_EVENT_BYTES, readPem, type ProfileDeps, type UplinkProfile } from './profile.js';
import { deviceTopics } from './topics.js';

/** Any MQTT 3.1.1 broker (Mosquitto, EMQX): optional TLS with our CA, user/password, mTLS. */
export function mqttProfile(cfg: MqttUplinkConfig, deps: ProfileDeps): UplinkProfile {
  const { protocol, host, port } = parseBrokerUrl(cfg.url);
  const tls = protocol === 'mqtts';
  const clientId = cfg.client_id ?? deps.deviceId;
  const topics = deviceTopics(deps.deviceId, cfg.topic_prefix);
  // Fail at start on unreadable files rather than on every reconnect; they are re-read per
  // connect so renewed certificates take effect without a restart.
  const files = () => ({
    ca: cfg.ca_file === undefined ? undefined : readPem(cfg.ca_file, 'ca_file'),
    cert: cfg.cert_file === undefined ? undefined : readPem(cfg.cert_file, 'cert_file'),
    key: cfg.key_file === undefined ? undefined : readPem(cfg.key_file, 'key_file'),
  });
  if (tls) files();
  return {
    name: 'mqtt',
    endpoint: `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    clientId,
    topics,
    maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
    needsSyncedClock: false,
    statusTopic: topics.status,
    publishPerSecond: null,
    statePerSecond: null,
    insecure: tls && cfg.insecure,
    plan() {
      const options: IClientOptions = {
        protocol,
        host,
        port,
        clientId,
        protocolVersion: 4,
        will: { topic: topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      };
      if (cfg.username !== undefined) options.username = cfg.username;
      if (cfg.password !== undefined) options.password = cfg.password;
      if (tls) {
        const f = files();
        if (f.ca) options.ca = f.ca;
        if (f.cert) options.cert = f.cert;
        if (f.key) options.key = f.key;
        options.rejectUnauthorized = !cfg.insecure;
      }
      return { options, refreshAfterMs: null };
    },
  };
}

function parseBrokerUrl(url: string): { protocol: 'mqtt' | 'mqtts'; host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UplinkConfigError(`bad broker url ${url}`);
  }
  const protocol = u.protocol === 'mqtts:' ? 'mqtts' : u.protocol === 'mqtt:' ? 'mqtt' : null;
  if (protocol === null || u.hostname === '') throw new UplinkConfigError(`bad broker url ${url}: expected mqtt://host:port or mqtts://host:port`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { protocol, host, port: u.port === '' ? (protocol === 'mqtts' ? 8883 : 1883) : Number(u.port) };
}
