import { REPLIES_SUBFOLDER } from '../agent/control/reply-sender.js';
import { deviceTopics, type DeviceTopics } from '../agent/uplink/topics.js';

// The console's view of the agent's topic layout. Everything is derived from the agent's own
// deviceTopics(), so that the two cannot drift apart.

export type InboundKind = 'telemetry' | 'replies' | 'state' | 'status' | 'other-event';

export interface InboundTopic {
  device: string;
  kind: InboundKind;
}

export interface ConsoleTopics {
  /** What the console subscribes to: every device's events, replies, state and status. */
  readonly filters: readonly string[];
  forDevice(device: string): DeviceTopics;
  /** Where commands go (the agent also accepts subfolders below it). */
  commandTopic(device: string): string;
  /** Which device and what a message on `topic` is; null for anything else. */
  parse(topic: string): InboundTopic | null;
}

export function consoleTopics(prefix = ''): ConsoleTopics {
  const wild = deviceTopics('+', prefix);
  // "/devices/+" with the prefix: the part before and after the device id.
  const [head] = wild.events.split('/+/') as [string];
  const start = `${head}/`;
  return {
    filters: [wild.events, wild.eventsFor(REPLIES_SUBFOLDER), wild.state, wild.status],
    forDevice: (device) => deviceTopics(device, prefix),
    commandTopic: (device) => deviceTopics(device, prefix).commandsFilter.replace(/\/#$/, ''),
    parse(topic) {
      if (!topic.startsWith(start)) return null;
      const device = topic.slice(start.length).split('/', 1)[0]!;
      if (device === '' || device === '+' || device === '#') return null;
      const t = deviceTopics(device, prefix);
      if (topic === t.events) return { device, kind: 'telemetry' };
      if (topic === t.eventsFor(REPLIES_SUBFOLDER)) return { device, kind: 'replies' };
      if (topic === t.state) return { device, kind: 'state' };
      if (topic === t.status) return { device, kind: 'status' };
      if (topic.startsWith(`${t.events}/`)) return { device, kind: 'other-event' };
      return null;
    },
  };
}
