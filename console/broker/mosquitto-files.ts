import type { DeviceRecord } from '../store/store.js';

// The console's registry as Mosquitto's own password_file and acl_file, for an external
// Mosquitto: the console is a privileged user there, and each device gets the same topic
// rules the embedded broker enforces (acl.ts). Mosquitto cannot check the JWTs of
// IoT Core-style devices, nor refuse a retained publish; those need the embedded broker.

export interface MosquittoFiles {
  passwordFile: string;
  aclFile: string;
  /** Devices left out: they have keys only, no password. */
  skipped: string[];
}

export function mosquittoFiles(
  devices: ReadonlyArray<Pick<DeviceRecord, 'id' | 'mosquittoHash'>>,
  console: { username: string; mosquittoHash: string } | null,
  prefix: string,
): MosquittoFiles {
  const base = `${prefix.replace(/\/+$/, '')}/devices`;
  const lines: string[] = [];
  const skipped: string[] = [];
  if (console) lines.push(`${console.username}:${console.mosquittoHash}`);
  for (const d of devices) {
    if (d.mosquittoHash === null) skipped.push(d.id);
    else lines.push(`${d.id}:${d.mosquittoHash}`);
  }
  const acl = [
    '# Written by fleetprobe-console from its device registry; edits are overwritten.',
    ...(console ? [`user ${console.username}`, `topic readwrite ${base}/#`, ''] : []),
    // %u is the user name, which is the device id (its client id must be the same).
    `pattern write ${base}/%u/events`,
    `pattern write ${base}/%u/events/#`,
    `pattern write ${base}/%u/state`,
    `pattern write ${base}/%u/status`,
    `pattern read ${base}/%u/config`,
    `pattern read ${base}/%u/commands`,
    `pattern read ${base}/%u/commands/#`,
  ];
  return { passwordFile: lines.join('\n') + '\n', aclFile: acl.join('\n') + '\n', skipped };
}
