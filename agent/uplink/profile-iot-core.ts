import type { IClientOptions } from 'mqtt';
import type { IotCoreUplinkConfig } from '../config/schema.js';
import { loadPrivateKey, mintJwt } from './jwt.js';
import { DEFAULT_MAX_EVENT_BYTES, readPem, type ProfileDeps, type UplinkProfile } from './profile.js';
import { deviceTopics } from './topics.js';

/**
 * The Cloud IoT Core device protocol (as ClearBlade serves it): TLS, MQTT 3.1.1, a JWT as
 * password, no retain, no will, no persistent session, and per-device quotas.
 */
export function iotCoreProfile(cfg: IotCoreUplinkConfig, deps: ProfileDeps): UplinkProfile {
  const clientId = `projects/${cfg.project}/locations/${cfg.region}/registries/${cfg.registry}/devices/${deps.deviceId}`;
  const ttlMs = deps.jwtTtlMs ?? cfg.jwt_ttl_minutes * 60_000;
  // Reconnect with a fresh token before the broker drops us for an expired one; the margin
  // also absorbs clock drift between NTP syncs.
  const marginMs = Math.min(ttlMs * 0.1, 5 * 60_000);
  loadPrivateKey(cfg.private_key_file, cfg.algorithm);
  if (cfg.ca_file !== undefined) readPem(cfg.ca_file, 'ca_file');
  return {
    name: 'iot-core',
    endpoint: `mqtts://${cfg.host}:${cfg.port}`,
    clientId,
    topics: deviceTopics(deps.deviceId),
    maxEventBytes: DEFAULT_MAX_EVENT_BYTES,
    needsSyncedClock: true,
    statusTopic: null,
    publishPerSecond: 100,
    statePerSecond: 1,
    insecure: false,
    plan(now) {
      // Re-read per connect: a rotated key takes effect at the next reconnect.
      const key = loadPrivateKey(cfg.private_key_file, cfg.algorithm);
      const { token, claims } = mintJwt({ key, algorithm: cfg.algorithm, audience: cfg.project, now, ttlMs });
      // From exp, not from ttl: iat is rounded down to the second.
      const refreshAfterMs = Math.max(0, claims.exp * 1000 - now.getTime() - marginMs);
      const options: IClientOptions = {
        protocol: 'mqtts',
        host: cfg.host,
        port: cfg.port,
        clientId,
        protocolVersion: 4,
        username: 'unused',
        password: token,
        rejectUnauthorized: true,
      };
      if (cfg.ca_file !== undefined) options.ca = readPem(cfg.ca_file, 'ca_file');
      // Google's bridge required ALPN "mqtt" on 443 (that port is shared with HTTPS).
      if (cfg.port === 443) options.ALPNProtocols = ['mqtt'];
      return { options, refreshAfterMs };
    },
  };
}
