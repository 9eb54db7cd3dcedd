import type { Json } from '../../agent/core/control.js';
import { formatProblem, validateRemoteConfig, type ConfigProblem } from '../../agent/control/remote-config.js';
import { CONTROL_JSON_LIMITS, isPlainObject, safeParseJson } from '../../agent/control/safe-json.js';
import type { Logger } from '../../agent/core/logger.js';
import type { Bus } from '../broker/bus.js';
import type { ConfigRecord, Store } from '../store/store.js';
import type { ConsoleTopics } from '../topics.js';

// Versioned config: validated with the agent's own remote-config schema before anything is
// stored or sent, then published retained with QoS 1 (a device that connects later gets it).

export class ConfigInvalidError extends Error {
  override readonly name = 'ConfigInvalidError';
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid config: ${problems.slice(0, 5).map(formatProblem).join('; ')}${problems.length > 5 ? `; ... (${problems.length})` : ''}`);
  }
}

export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
}

export interface PushOutcome {
  version: number;
  /** false: stored, and sent when the broker is reachable again. */
  published: boolean;
  error?: string;
}

export class ConfigPusher {
  constructor(
    private readonly deps: {
      store: Pick<Store, 'addConfig' | 'markConfigPublished' | 'latestConfig' | 'latestConfigs'>;
      bus: Pick<Bus, 'publish'>;
      topics: ConsoleTopics;
      logger: Logger;
      now: () => number;
    },
  ) {}

  /** Checks a document as the agent would, without pushing it. The version is optional here. */
  async check(device: string, doc: unknown): Promise<{ version: number; document: Record<string, Json> }> {
    if (!isPlainObject(doc)) throw new ConfigInvalidError([{ path: '', reason: 'expected a JSON object' }]);
    const latest = await this.deps.store.latestConfig(device);
    const next = (latest?.version ?? 0) + 1;
    const withVersion = { ...doc, version: doc.version ?? next };
    const r = validateRemoteConfig(withVersion);
    if (!r.ok) throw new ConfigInvalidError(r.problems);
    // The agent refuses a config message over its size or depth limits before parsing it:
    // refuse here what it would, rather than publish a document it will drop.
    const sent = safeParseJson(JSON.stringify(withVersion), CONTROL_JSON_LIMITS);
    if (!sent.ok) throw new ConfigInvalidError([{ path: '', reason: sent.reason }]);
    // The agent ignores a version it has seen (not newer): it would silently do nothing.
    if (latest && r.version <= latest.version) throw new VersionConflictError(`version ${r.version} is not newer than the latest pushed version ${latest.version}`);
    return { version: r.version, document: r.document as Record<string, Json> };
  }

  async push(device: string, doc: unknown): Promise<PushOutcome> {
    const { version, document } = await this.check(device, doc);
    await this.deps.store.addConfig({ device, version, document, pushedAt: this.deps.now() });
    return this.publish({ device, version, document });
  }

  /** After a (re)connect: the embedded broker keeps retained messages in memory only. */
  async republish(all: boolean): Promise<void> {
    for (const c of await this.deps.store.latestConfigs({ unpublishedOnly: !all })) {
      const out = await this.publish(c);
      if (!out.published) break;
    }
  }

  private async publish(c: Pick<ConfigRecord, 'device' | 'version' | 'document'>): Promise<PushOutcome> {
    const payload = Buffer.from(JSON.stringify({ version: c.version, ...c.document }));
    try {
      await this.deps.bus.publish(this.deps.topics.forDevice(c.device).config, payload, { retain: true });
      await this.deps.store.markConfigPublished(c.device, c.version, this.deps.now());
      return { version: c.version, published: true };
    } catch (err) {
      const error = (err as Error).message;
      this.deps.logger.warn(`config: version ${c.version} for ${c.device} not published yet: ${error}`);
      return { version: c.version, published: false, error };
    }
  }
}
