import type { ControlKind } from '../core/uplink.js';

/** The Cloud IoT Core device topic layout, optionally below a prefix (plain MQTT brokers). */
export interface DeviceTopics {
  events: string;
  state: string;
  config: string;
  /** Subscription filter for every command subfolder. */
  commandsFilter: string;
  /** Retained online/offline presence; only brokers that support retain and will get one. */
  status: string;
  eventsFor(subfolder?: string): string;
  controlKind(topic: string): ControlKind | null;
}

export function deviceTopics(deviceId: string, prefix = ''): DeviceTopics {
  // "fleet/" and "fleet" mean the same; the layout itself starts with a slash.
  const base = `${prefix.replace(/\/+$/, '')}/devices/${deviceId}`;
  const events = `${base}/events`;
  const config = `${base}/config`;
  const commands = `${base}/commands`;
  return {
    events,
    state: `${base}/state`,
    config,
    commandsFilter: `${commands}/#`,
    status: `${base}/status`,
    eventsFor: (subfolder) => (subfolder ? `${events}/${checkSubfolder(subfolder)}` : events),
    controlKind: (topic) => (topic === config ? 'config' : topic === commands || topic.startsWith(`${commands}/`) ? 'command' : null),
  };
}

function checkSubfolder(subfolder: string): string {
  if (/[#+]/.test(subfolder) || subfolder.startsWith('/')) throw new RangeError(`bad events subfolder "${subfolder}"`);
  return subfolder;
}
