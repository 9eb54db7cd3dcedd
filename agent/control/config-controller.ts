import type { Logger } from '../core/logger.js';
import type { ControlState } from './control-state.js';
import { configError } from './effective-config.js';
import type { LimitedLog } from './limited-log.js';
import { formatProblem, isNewerVersion, parseRemoteConfig, type ConfigProblem } from './remote-config.js';
import type { SafetyPolicy } from './safety-policy.js';

export type ConfigOutcome = 'applied' | 'ignored' | 'rejected';

export interface ConfigControllerDeps {
  state: ControlState;
  policy: SafetyPolicy;
  logger: Logger;
  refusals: LimitedLog;
  now?: () => Date;
}

/**
 * Config from the cloud: parse (bounded), validate with the file's schema, order by
 * version, check the safety policy, then persist and apply. Anything wrong rejects the
 * whole document: the previous config stays and the reason goes into the state.
 */
export class ConfigController {
  constructor(private readonly deps: ConfigControllerDeps) {}

  handle(payload: Buffer): ConfigOutcome {
    const { state, logger } = this.deps;
    // IoT Core delivers an empty config to a device that has none; clearing a retained
    // config does the same on a plain broker. Neither is a config.
    if (payload.length === 0) {
      logger.debug('control: empty config message ignored');
      return 'ignored';
    }
    const parsed = parseRemoteConfig(payload);
    if (!parsed.ok) return this.reject(parsed.version, parsed.problems);
    if (!isNewerVersion(parsed.version, state.version)) {
      logger.debug(`control: config version ${parsed.version} ignored (version ${state.version} applies)`);
      return 'ignored';
    }
    const violations = this.deps.policy.check(parsed.ops);
    if (violations.length > 0) return this.reject(parsed.version, violations.map((v) => ({ path: v.path, reason: `safety policy: ${v.reason}` })));
    try {
      state.applyRemote(parsed.version, parsed.document, parsed.ops);
    } catch (err) {
      return this.reject(parsed.version, [{ path: '', reason: `cannot apply the config: ${(err as Error).message}` }]);
    }
    const ops = state.ops;
    logger.info(`control: config version ${parsed.version} applied: ${ops.probes.length} probe(s), monitoring ${ops.agent_operations.monitoring_enabled ? 'enabled' : 'disabled'}`);
    return 'applied';
  }

  private reject(version: number | null, problems: ConfigProblem[]): ConfigOutcome {
    const error = configError(version, problems, (this.deps.now ?? (() => new Date()))());
    this.deps.state.rejectConfig(error);
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    this.deps.refusals.warn(`control: config${version === null ? '' : ` version ${version}`} rejected, the previous one stays: ${formatProblem(problems[0]!)}${more}`);
    return 'rejected';
  }
}
