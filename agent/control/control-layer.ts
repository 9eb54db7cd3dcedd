import type { Config, OperationalConfig } from '../config/schema.js';
import type { ClockStatus } from '../core/clock.js';
import type { LastError } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import type { Outbox, OutboxDrain } from '../core/outbox.js';
import type { AddressGuard } from '../core/probe.js';
import type { ControlMessage, Transport } from '../core/uplink.js';
import { realTimers, type Timers } from '../schedule/scheduler.js';
import { CommandController } from './command-controller.js';
import { commandHandlers } from './commands.js';
import { ConfigController } from './config-controller.js';
import { ControlState } from './control-state.js';
import { readPersisted, resolveEffective } from './effective-config.js';
import { CONTROL_FILES, openConfStore, type JsonStore } from './json-store.js';
import { LimitedLog } from './limited-log.js';
import { SlidingWindowLimiter } from './rate-limiter.js';
import { ReplySender } from './reply-sender.js';
import { ReplyStore } from './reply-store.js';
import { SafetyPolicy, type InterfacesFn } from './safety-policy.js';
import { StateBuilder } from './state.js';
import { StateReporter } from './state-reporter.js';
import { UpdateControl } from './update-control.js';

/** What the control layer needs from the agent (AgentService). */
export interface ControlledAgent {
  apply(ops: OperationalConfig, guard: AddressGuard | null): void;
  probeNow(names?: readonly string[]): Promise<number[]>;
  readonly skippedRounds: number;
}

export interface ControlLayerDeps {
  config: Config;
  stateDir: string;
  deviceId: string;
  agentVersion: string;
  agent: ControlledAgent;
  outbox: Outbox;
  drain: OutboxDrain | null;
  uplinkError: () => LastError | null;
  /** Null without an uplink: no config or commands arrive, the status file is still kept. */
  transport: Transport | null;
  clock: ClockStatus;
  logger: Logger;
  interfaces?: InterfacesFn;
  timers?: Timers;
  /** Opens a JSON document in the state directory (conf by default). */
  openStore?: (name: string) => JsonStore;
  /** How often the update's result file is looked for (default 2 s). */
  updatePollMs?: number;
}

/**
 * The remote-control layer assembled: config and commands from the cloud in, replies and
 * state out, everything it decides persisted in the state directory.
 */
export class ControlLayer {
  readonly state: ControlState;
  /** Resolves when a restart command asks the agent to exit for systemd to start it again. */
  readonly restartRequested: Promise<void>;
  private readonly configs: ConfigController;
  private readonly commands: CommandController | null;
  private readonly sender: ReplySender | null;
  private readonly reporter: StateReporter;
  private readonly replies: ReplyStore;
  private readonly update: UpdateControl | null;
  private readonly onControl = (msg: ControlMessage): void => this.dispatch(msg);
  private started = false;

  constructor(private readonly deps: ControlLayerDeps) {
    const { config, logger } = deps;
    const open = deps.openStore ?? ((name: string) => openConfStore(deps.stateDir, name, logger));
    const timers = deps.timers ?? realTimers;
    const started = timers.now();
    const policy = new SafetyPolicy(config.safety, deps.interfaces);
    const store = open(CONTROL_FILES.remoteConfig);
    const { persisted, problem } = readPersisted(store.read());
    if (problem) logger.warn(`control: ${store.path}: ${problem}; the file's config applies`);
    const effective = resolveEffective({ agent_operations: config.agent_operations, probes: config.probes }, persisted, policy);
    if (effective.problem) logger.warn(`control: remote config version ${effective.problem.version} not applied at start: ${effective.problem.problems.join('; ')}`);
    this.state = new ControlState({ fileOps: { agent_operations: config.agent_operations, probes: config.probes }, store, policy, apply: (ops, guard) => deps.agent.apply(ops, guard) }, effective);
    const refusals = new LimitedLog(logger);
    this.configs = new ConfigController({ state: this.state, policy, logger, refusals });
    this.replies = new ReplyStore(open(CONTROL_FILES.replies), { logger });
    let requestRestart: () => void = () => undefined;
    this.restartRequested = new Promise<void>((resolve) => (requestRestart = resolve));
    this.sender = deps.transport ? new ReplySender(deps.transport, logger) : null;
    const sender = this.sender;
    const replies = this.replies;
    this.update = sender
      ? new UpdateControl({
          stateDir: deps.stateDir, agentVersion: deps.agentVersion, publicKeyFile: config.update.public_key_file,
          storedReply: (id) => replies.get(id), logger, ...(deps.updatePollMs ? { pollMs: deps.updatePollMs } : {}),
        })
      : null;
    this.commands = sender
      ? new CommandController({
          handlers: commandHandlers({
            state: this.state, probeNow: (names) => deps.agent.probeNow(names), outbox: deps.outbox, drain: deps.drain, requestRestart,
            uptimeMs: () => timers.now() - started, restartMinUptimeMs: config.safety.restart_min_uptime_s * 1000,
            ...(this.update ? { update: this.update.handler } : {}),
          }),
          replies: this.replies,
          limiter: new SlidingWindowLimiter(config.safety.max_commands_per_minute, 60_000),
          send: (reply) => sender.send(reply),
          state: this.state,
          clock: deps.clock,
          logger,
          refusals,
        })
      : null;
    const commands = this.commands;
    if (commands) this.update?.bind((reply) => commands.complete(reply));
    const builder = new StateBuilder({
      deviceId: deps.deviceId,
      agentVersion: deps.agentVersion,
      control: this.state,
      outbox: deps.outbox,
      skippedRounds: () => deps.agent.skippedRounds,
      uplinkError: deps.uplinkError,
      uptimeS: () => (timers.now() - started) / 1000,
    });
    this.reporter = new StateReporter({
      build: () => builder.build(),
      transport: deps.transport,
      statusFile: open(CONTROL_FILES.status),
      fileExtras: { pid: process.pid },
      intervalS: config.state_interval,
      logger,
      timers,
    });
    this.state.onChange(() => this.reporter.poke());
    if (problem) this.state.noteError(`${store.path}: ${problem}`);
  }

  /** Listens for config and commands (before the transport starts: a retained config arrives first thing). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.sender?.start();
    this.deps.transport?.on('control', this.onControl);
    this.reporter.start();
    this.update?.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.deps.transport?.off('control', this.onControl);
    await this.update?.stop();
    await this.commands?.stop();
    this.sender?.stop();
    this.replies.flush();
    this.reporter.stop();
  }

  private dispatch(msg: ControlMessage): void {
    if (msg.kind === 'config') this.configs.handle(msg.payload);
    else if (this.commands) {
      this.commands.handle(msg.payload).catch((err: unknown) => this.deps.logger.error(`control: command handling failed: ${(err as Error).stack ?? String(err)}`));
    }
  }
}
