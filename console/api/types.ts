import type { AgentState } from '../../agent/core/control.js';
import type { ConfigProblem } from '../../agent/control/remote-config.js';
import type { BusStats } from '../broker/bus.js';
import type { CommandView } from '../fleet/commands.js';
import type { PushOutcome } from '../fleet/config-push.js';
import type { DeviceView } from '../fleet/device-view.js';
import type { Registered } from '../fleet/registry.js';
import type { Gap, StoredResult, StreamInfo } from '../store/store.js';
import type { HistorySeries, Resolution } from './history.js';

// The API's response bodies, for typed clients (the CLI, the web UI, the tests).

export interface ErrorBody {
  error: string;
  /** 409 on registration: the ids that exist. */
  ids?: string[];
  /** 422 on config: every problem the agent's schema found; 400: request problems. */
  problems?: ConfigProblem[] | string[];
}

export interface ConsoleInfo {
  version: string;
  broker: BusStats;
  devices: { mqtt: string[]; iot_core: { project: string; region: string; registry: string } | null };
  ingest: { stored: number; duplicates: number; rejected: number; messages: number };
  topic_prefix: string;
}

export interface RegisteredBody { registered: Registered[] }
export interface DevicesBody { devices: DeviceView[] }
export interface DeviceBody { device: DeviceView; state: AgentState | null; streams: StreamInfo[]; commands: CommandView[] }
export interface ConfigBody {
  pushed: { version: number; document: Record<string, unknown>; pushed_at: string; published: boolean } | null;
  status: DeviceView['config'];
}
export type PushBody = PushOutcome;
export interface CommandsBody { commands: CommandView[] }
export interface ResultsBody { from: string; to: string; results: StoredResult[]; truncated: boolean }
export interface HistoryBody { from: string; to: string; resolution: Resolution; series: HistorySeries[]; truncated: boolean }
export interface StreamsBody { streams: StreamInfo[]; gaps: Gap[] }
export interface RemovedBody { removed: string; disconnected: boolean }
