import type { ConsoleTopics } from '../topics.js';

// Per-device topic rules, the same for the embedded broker (enforced in its hooks) and for
// an external Mosquitto (written as its acl_file): a device publishes only its own events
// (any subfolder), state and status, and subscribes only to its own config and commands.

export interface DeviceAcl {
  /** Exact topics the device may publish to. */
  publish: string[];
  /** Topic prefixes (ending in '/') below which the device may publish. */
  publishBelow: string[];
  /** The one topic it may publish retained: its online/offline presence. */
  retained: string;
  /** Exact filters it may subscribe to. */
  subscribe: string[];
  /** Prefixes (ending in '/') below which any filter, wildcards included, stays its own. */
  subscribeBelow: string[];
}

export function deviceAcl(topics: ConsoleTopics, device: string): DeviceAcl {
  const t = topics.forDevice(device);
  const commands = topics.commandTopic(device);
  return {
    publish: [t.events, t.state, t.status],
    publishBelow: [`${t.events}/`],
    retained: t.status,
    subscribe: [t.config, commands],
    subscribeBelow: [`${commands}/`],
  };
}

/** Why the device may not publish this, or null. */
export function publishProblem(acl: DeviceAcl, topic: string, retain: boolean): string | null {
  const mine = acl.publish.includes(topic) || acl.publishBelow.some((p) => topic.startsWith(p));
  if (!mine) return `publish to ${topic} is not allowed`;
  if (retain && topic !== acl.retained) return `retained publish to ${topic} is not allowed`;
  return null;
}

/**
 * Whether the device may subscribe to `filter`. A filter below its own commands prefix can
 * only match its own topics whatever wildcards it holds; anything else must be exact.
 * (Device ids cannot contain '+', '#' or '/', so the prefixes themselves are literal.)
 */
export function maySubscribe(acl: DeviceAcl, filter: string): boolean {
  return acl.subscribe.includes(filter) || acl.subscribeBelow.some((p) => filter.startsWith(p) && filter.length > p.length);
}
