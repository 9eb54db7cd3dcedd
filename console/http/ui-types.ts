import type { AgentState, Json } from '../../agent/core/control.js';
import type { CommandView } from '../fleet/commands.js';
import type { DeviceView } from '../fleet/device-view.js';
import type { Gap, StreamInfo } from '../store/store.js';

// The bodies of the web UI's extra routes (/api/ui/...), for typed clients and tests, like
// the core API's console/api/types.ts. Chart bodies are ChartData (ui-series.ts).

export interface UiFleetDevice extends DeviceView {
  /** Median RTT per 5-minute bucket over the last 6 h (mean over the device's probes); null: nothing measured. */
  spark: { step_s: number; from: number; values: Array<number | null> };
}

export interface UiFleetBody {
  now: number;
  devices: UiFleetDevice[];
}

export interface UiConfigDoc {
  version: number;
  document: Record<string, Json>;
  pushed_at: string;
}

export interface UiDeviceBody {
  now: number;
  device: DeviceView;
  state: AgentState | null;
  latest_config: UiConfigDoc | null;
  /** The document of the version the device runs, if this console pushed it. */
  applied_config: UiConfigDoc | null;
  commands: CommandView[];
  streams: StreamInfo[];
  gaps: Gap[];
}
