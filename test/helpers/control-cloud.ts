// The cloud side of remote control for tests: pushes config and commands to one device
// through a real broker and collects its replies, states and telemetry.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentStateSchema, commandReplySchema, type AgentState, type CommandReply } from '../../agent/core/control.js';
import type { ProbeResult } from '../../agent/core/result.js';
import { AgentProcess } from './agent-process.js';
import { MqttSubscriber, type ReceivedMessage } from './mqtt-subscriber.js';

export interface Telemetry {
  schema: number;
  device: string;
  stream: string;
  results: Array<ProbeResult & { seq: number }>;
}

export class ControlCloud {
  readonly topics: { config: string; commands: string; replies: string; state: string; events: string };

  private constructor(
    readonly sub: MqttSubscriber,
    readonly device: string,
  ) {
    const base = `/devices/${device}`;
    this.topics = { config: `${base}/config`, commands: `${base}/commands`, replies: `${base}/events/replies`, state: `${base}/state`, events: `${base}/events` };
  }

  static async connect(url: string, device: string): Promise<ControlCloud> {
    const sub = await MqttSubscriber.connect(url, [`/devices/${device}/#`]);
    return new ControlCloud(sub, device);
  }

  /** Config as the mqtt profile's cloud sends it: QoS 1, retained (a late subscriber gets the latest). */
  async pushConfig(doc: unknown, opts: { retain?: boolean } = {}): Promise<void> {
    const payload = typeof doc === 'string' || Buffer.isBuffer(doc) ? doc : JSON.stringify(doc);
    await this.sub.publish(this.topics.config, payload, { qos: 1, retain: opts.retain ?? true });
  }

  /** Removes the retained config, so the next test's device does not get it. */
  async clearConfig(): Promise<void> {
    await this.sub.publish(this.topics.config, '', { qos: 1, retain: true });
  }

  async command(envelope: unknown, subfolder?: string): Promise<void> {
    const payload = typeof envelope === 'string' || Buffer.isBuffer(envelope) ? envelope : JSON.stringify(envelope);
    await this.sub.publish(subfolder ? `${this.topics.commands}/${subfolder}` : this.topics.commands, payload, { qos: 1 });
  }

  replies(id?: string): CommandReply[] {
    return this.sub.on(this.topics.replies).map((m) => commandReplySchema.parse(JSON.parse(m.payload.toString()))).filter((r) => id === undefined || r.id === id);
  }

  async reply(id: string, timeoutMs = 10_000): Promise<CommandReply> {
    const m = await this.sub.waitFor((x) => x.topic === this.topics.replies && (JSON.parse(x.payload.toString()) as { id?: unknown }).id === id, timeoutMs, `reply to ${id}`);
    return commandReplySchema.parse(JSON.parse(m.payload.toString()));
  }

  /** Sends a command and waits for its reply. */
  async call(envelope: { id: string } & Record<string, unknown>, timeoutMs = 10_000): Promise<CommandReply> {
    await this.command(envelope);
    return this.reply(envelope.id, timeoutMs);
  }

  states(): AgentState[] {
    return this.sub.on(this.topics.state).map((m) => agentStateSchema.parse(JSON.parse(m.payload.toString())));
  }

  async waitState(match: (s: AgentState) => boolean, timeoutMs = 10_000, what = 'state'): Promise<AgentState> {
    const m = await this.sub.waitFor((x) => x.topic === this.topics.state && match(agentStateSchema.parse(JSON.parse(x.payload.toString()))), timeoutMs, what);
    return agentStateSchema.parse(JSON.parse(m.payload.toString()));
  }

  /** Every result delivered as telemetry so far, in arrival order. */
  results(): Array<ProbeResult & { seq: number }> {
    return this.sub.on(this.topics.events).flatMap((m: ReceivedMessage) => (JSON.parse(m.payload.toString()) as Telemetry).results);
  }

  async waitResult(match: (r: ProbeResult & { seq: number }) => boolean, timeoutMs = 10_000, what = 'result'): Promise<ProbeResult & { seq: number }> {
    await this.sub.waitFor((m) => m.topic === this.topics.events && (JSON.parse(m.payload.toString()) as Telemetry).results.some(match), timeoutMs, what);
    return this.results().find(match)!;
  }

  close(): Promise<void> {
    return this.sub.close();
  }
}

export function tempStateDir(dirs: string[]): string {
  const d = mkdtempSync(join(tmpdir(), 'fp-control-'));
  dirs.push(d);
  return d;
}

/** An agent config for control tests: loopback probes, loopback allowed for remote config too. */
export function controlConfig(dir: string, device: string, url: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    device: { id: device },
    state_dir: dir,
    log_level: 'debug',
    clock: { assume_synced: true },
    agent_operations: { probe_interval: 1 },
    probes: [{ name: 'file-lo4', ip_address: '127.0.0.1', count: 2, interval_ms: 20, timeout_ms: 300 }],
    safety: { allow_cidrs: ['127.0.0.0/8', '::1/128'] },
    state_interval: 5,
    ...(url ? { uplink: { profile: 'mqtt', url } } : {}),
    ...extra,
  };
}

/** A remote config document with loopback probes. */
export function remoteDoc(version: number, probes: Array<Record<string, unknown>>, ops: Record<string, unknown> = { probe_interval: 1 }): Record<string, unknown> {
  return { version, agent_operations: ops, probes };
}

export function loProbe(name: string, address = '127.0.0.1', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, ip_address: address, count: 2, interval_ms: 20, timeout_ms: 300, ...extra };
}

/** Agents started by a test file, so that a failed test cannot leave one running (and the runner waiting for it). */
export class AgentPool {
  private readonly agents: AgentProcess[] = [];

  start(dir: string, config: unknown): AgentProcess {
    const a = AgentProcess.start(dir, config);
    this.agents.push(a);
    return a;
  }

  async killAll(): Promise<void> {
    await Promise.all(
      this.agents.map(async (a) => {
        const done = await Promise.race([a.exited.then(() => true), Promise.resolve(false)]);
        if (!done) {
          a.kill('SIGKILL');
          await a.exited;
        }
      }),
    );
  }
}
