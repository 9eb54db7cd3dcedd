import { mkdirSync } from 'node:fs';
import type { z } from 'zod';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { CommandReply, Json } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import { PinnedDir, UnsafeFileError } from '../update/files.js';
import {
  describeRequest, REQUEST_FILE, shapeOf, REQUEST_MAX_BYTES, requestFileSchema, RESULT_FILE, RESULT_MAX_BYTES, resultFileSchema,
  UPDATE_SUBDIR, updateArgsSchema, type UpdateArgs, type UpdateResult,
} from '../update/protocol.js';
import { CommandRejected, parseArgs, type CommandHandler } from './commands.js';
import { safeParseJson } from './safe-json.js';

const ASIDE_KEEP = 5;

export interface UpdateControlDeps {
  stateDir: string;
  agentVersion: string;
  /** update.public_key_file: URL updates are refused without it. */
  publicKeyFile: string | undefined;
  /** The stored reply of a command id (the accepted one until the final reply replaces it). */
  storedReply: (id: string) => CommandReply | undefined;
  logger: Logger;
  /** How often the result file is looked for. Default 2 s. */
  pollMs?: number;
  /** A request the updater has not answered after this long is given up. Default 30 min. */
  staleMs?: number;
  now?: () => number;
}

/**
 * The agent's half of the update: it validates the command, writes the request for the
 * root updater (fleetprobe-update.path starts it), replies accepted, and sends the final
 * reply when the updater's result appears, also after the restart the update itself causes.
 */
export class UpdateControl {
  /** Stores and sends a final reply; true once the broker acknowledged it. */
  private finish: (reply: CommandReply) => Promise<boolean> = async () => false;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private readonly dir: string;
  private readonly warned = new Set<string>();

  constructor(private readonly deps: UpdateControlDeps) {
    this.dir = join(deps.stateDir, UPDATE_SUBDIR);
  }

  /** Where final replies go (CommandController.complete). */
  bind(finish: (reply: CommandReply) => Promise<boolean>): void {
    this.finish = finish;
  }

  readonly handler: CommandHandler = (args, id) => {
    const wanted = this.parse(args);
    if ('url' in wanted && this.deps.publicKeyFile === undefined) {
      throw new CommandRejected('URL updates need a pinned public key: set update.public_key_file in the config file');
    }
    if ('version' in wanted && wanted.version === this.deps.agentVersion) throw new CommandRejected(`version ${wanted.version} is already running`);
    const pending = this.pendingId();
    if (pending !== null) throw new CommandRejected(`update ${pending} is still in progress`);
    return async () => {
      const now = (this.deps.now ?? Date.now)();
      const request = { format: 1, id, requested_at: new Date(now).toISOString(), ...wanted };
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const dir = PinnedDir.open(this.dir);
      try {
        dir.writeAtomic(REQUEST_FILE, `${JSON.stringify(requestFileSchema.parse(request))}\n`, { mode: 0o600 });
      } finally {
        dir.close();
      }
      this.deps.logger.info(`control: update ${id} requested: ${describeRequest(wanted)}`);
      const result: Json = 'version' in wanted ? { version: wanted.version } : { url: wanted.url, sha256: wanted.sha256 };
      return { status: 'accepted', result };
    };
  };

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.deps.pollMs ?? 2000).unref();
  }

  /** Stops looking; a result that comes meanwhile is answered after the next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }

  private parse(args: Record<string, unknown>): UpdateArgs {
    const schema = shapeOf(updateArgsSchema, args);
    if (schema === null) throw new CommandRejected('invalid args: expected {version} or {url, sha256, signature}');
    return parseArgs(schema as z.ZodType<UpdateArgs>, args);
  }

  /** The id of a request the updater has not answered yet, or null. */
  private pendingId(): string | null {
    let r: unknown;
    try {
      r = this.readOwn(REQUEST_FILE, REQUEST_MAX_BYTES);
    } catch (err) {
      // A link or a FIFO where the request goes: the next poll sets it aside.
      if (err instanceof UnsafeFileError) return `unknown (${err.message})`;
      throw err;
    }
    if (r === null) return null;
    const p = requestFileSchema.safeParse(r);
    return p.success ? p.data.id : 'unknown (unreadable request file)';
  }

  private readOwn(name: string, maxBytes: number): unknown {
    let dir: PinnedDir;
    try {
      dir = PinnedDir.open(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const raw = dir.read(name, { maxBytes });
      if (raw === null) return null;
      const parsed = safeParseJson(raw, { maxBytes, maxDepth: 4 });
      return parsed.ok ? parsed.value : { unreadable: parsed.reason };
    } finally {
      dir.close();
    }
  }

  private tick(): void {
    if (this.polling) return;
    this.polling = this.poll()
      .catch((err: unknown) => this.warnOnce('poll', `control: update: ${(err as Error).message}`))
      .finally(() => (this.polling = null));
  }

  private async poll(): Promise<void> {
    let dir: PinnedDir;
    try {
      dir = PinnedDir.open(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const result = this.readResult(dir);
      if (result !== null) {
        const stored = this.deps.storedReply(result.id);
        const final = finalReply(result);
        if (stored === undefined || stored.status === 'accepted') {
          this.deps.logger.info(`control: update ${result.id} finished: ${result.status === 'ok' ? `version ${result.installed_version} installed` : result.error}`);
        } else if (!isDeepStrictEqual(stored, final)) {
          // Answered otherwise meanwhile (given up as stale): that answer stands.
          this.deps.logger.warn(`control: update ${result.id}: a result came after the command was answered; not sent`);
          dir.unlink(RESULT_FILE);
          return;
        }
        // The result file goes only once the broker has the reply: a restart before that
        // (no broker, the update restarting the agent) sends it again.
        if (await this.finish(final)) dir.unlink(RESULT_FILE);
        return;
      }
      await this.abandonStale(dir);
      this.pruneAside(dir);
    } finally {
      dir.close();
    }
  }

  /** Files set aside (refused requests, unreadable results) are kept for a look, the newest few only. */
  private pruneAside(dir: PinnedDir): void {
    const aside = dir.list()
      .filter((f) => /^(request|result)\.json\.(rejected|abandoned|invalid)-\d+$/.test(f))
      .sort((a, b) => Number(b.split('-').at(-1)) - Number(a.split('-').at(-1)));
    for (const f of aside.slice(ASIDE_KEEP)) dir.unlink(f);
  }

  /** The updater's result, validated; a file that is not one is set aside (and logged). */
  private readResult(dir: PinnedDir): UpdateResult | null {
    let problem: string;
    try {
      const raw = dir.read(RESULT_FILE, { maxBytes: RESULT_MAX_BYTES });
      if (raw === null) return null;
      const parsed = safeParseJson(raw, { maxBytes: RESULT_MAX_BYTES, maxDepth: 2 });
      const r = parsed.ok ? resultFileSchema.safeParse(parsed.value) : null;
      if (r?.success) return r.data;
      problem = parsed.ok ? 'not an update result' : parsed.reason;
    } catch (err) {
      if (!(err instanceof UnsafeFileError)) throw err;
      problem = err.message;
    }
    const aside = `${RESULT_FILE}.invalid-${(this.deps.now ?? Date.now)()}`;
    dir.rename(RESULT_FILE, aside);
    this.deps.logger.warn(`control: update: ${join(this.dir, RESULT_FILE)} ignored (${problem}): moved to ${aside}`);
    return null;
  }

  /** A request nobody answered (the path unit is not enabled, the updater crashed) ends in an error reply. */
  private async abandonStale(dir: PinnedDir): Promise<void> {
    let raw: unknown;
    try {
      raw = this.readOwn(REQUEST_FILE, REQUEST_MAX_BYTES);
    } catch (err) {
      if (!(err instanceof UnsafeFileError)) throw err;
      raw = { unreadable: err.message };
    }
    if (raw === null) return;
    const req = requestFileSchema.safeParse(raw);
    const now = (this.deps.now ?? Date.now)();
    const staleMs = this.deps.staleMs ?? 30 * 60_000;
    if (req.success && now - Date.parse(req.data.requested_at) < staleMs) return;
    dir.rename(REQUEST_FILE, `${REQUEST_FILE}.abandoned-${now}`);
    if (!req.success) {
      this.deps.logger.warn(`control: update: ${join(this.dir, REQUEST_FILE)} is not a request: moved aside`);
      return;
    }
    const why = `the updater did not answer within ${Math.round(staleMs / 60_000)} min (is fleetprobe-update.path enabled and active?)`;
    this.deps.logger.error(`control: update ${req.data.id}: ${why}`);
    if (this.deps.storedReply(req.data.id)?.status === 'accepted') {
      await this.finish({ id: req.data.id, status: 'error', error: why, result: { installed_version: this.deps.agentVersion, rolled_back: false } });
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.logger.warn(message);
  }
}

/** The updater's result as the command's final reply. */
export function finalReply(r: UpdateResult): CommandReply {
  const result = { installed_version: r.installed_version, previous_version: r.previous_version, attempted_version: r.attempted_version, rolled_back: r.rolled_back };
  return r.status === 'ok' ? { id: r.id, status: 'ok', result } : { id: r.id, status: 'error', error: r.error ?? 'the update failed', result };
}

