import type { AgentState, ConfigErrorInfo } from '../../agent/core/control.js';
import type { ConfigRecord, DeviceRecord } from '../store/store.js';

// A device as the API (and the web UI's fleet list) shows it: everything an operator scans
// for, flat, with ISO times. Credentials never leave the console.

export interface DeviceView {
  id: string;
  registered_at: string;
  auth: { password: boolean; public_keys: number };
  online: boolean | null;
  presence_at: string | null;
  last_seen: string | null;
  agent_version: string | null;
  monitoring_enabled: boolean | null;
  probes: number | null;
  config: {
    /** The latest version pushed from the console, and whether the broker took it. */
    pushed_version: number | null;
    pushed_at: string | null;
    published: boolean | null;
    /** What the agent says it runs (null: its file config, or no state yet). */
    applied_version: number | null;
    source: AgentState['config_source'] | null;
    /** pending: pushed, not applied or rejected yet; applied; rejected (see error); none: nothing pushed. */
    status: 'none' | 'pending' | 'applied' | 'rejected';
    error: ConfigErrorInfo | null;
  };
  outbox: AgentState['outbox'] | null;
  dropped_total: number | null;
  last_delivery: string | null;
  last_error: AgentState['last_error'];
  uptime_s: number | null;
  state_at: string | null;
  rejected_messages: number;
  last_rejection: string | null;
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function deviceView(d: DeviceRecord, latest: ConfigRecord | null): DeviceView {
  const s = d.state;
  const applied = s?.config_version ?? null;
  const error = s?.config_error ?? null;
  let status: DeviceView['config']['status'] = 'none';
  if (latest) {
    if (applied !== null && applied >= latest.version) status = 'applied';
    else if (error && error.version !== null && error.version >= latest.version) status = 'rejected';
    else status = 'pending';
  }
  return {
    id: d.id,
    registered_at: iso(d.registeredAt)!,
    auth: { password: d.passwordHash !== null, public_keys: d.publicKeys.length },
    online: d.online,
    presence_at: iso(d.presenceAt),
    last_seen: iso(d.lastSeen),
    agent_version: s?.agent_version ?? null,
    monitoring_enabled: s?.monitoring_enabled ?? null,
    probes: s?.probes ?? null,
    config: {
      pushed_version: latest?.version ?? null,
      pushed_at: iso(latest?.pushedAt ?? null),
      published: latest ? latest.publishedAt !== null : null,
      applied_version: applied,
      source: s?.config_source ?? null,
      status,
      error,
    },
    outbox: s?.outbox ?? null,
    dropped_total: s?.dropped_total ?? null,
    last_delivery: s?.last_delivery ?? null,
    last_error: s?.last_error ?? null,
    uptime_s: s?.uptime_s ?? null,
    state_at: iso(d.stateAt),
    rejected_messages: d.rejectedMessages,
    last_rejection: d.lastRejection,
  };
}
