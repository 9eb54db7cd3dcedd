import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { Downloader } from './download.js';
import { PinnedDir, UnsafeFileError } from './files.js';
import type { HealthCheck } from './health.js';
import type { Installer } from './installer.js';
import { Journal, type JournalEntry } from './journal.js';
import { PACKAGE_NAME, RESULT_FILE, type UpdateRequest, type UpdateResult } from './protocol.js';
import { readRequest, rejectRequest } from './request-file.js';
import { loadPinnedKey, sha256File, signatureValid, UpdateError } from './verify.js';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

export interface UpdaterDeps {
  /** <state_dir>/update: the agent's request, and where the result goes. */
  agentDir: string;
  /** The agent's uid: the request directory and file must be its own. */
  agentUid: number;
  /** Root's own directory: journal, downloads, the last good .deb. */
  workDir: string;
  /** The pinned Ed25519 key for URL updates (null: URL updates are refused). */
  publicKeyFile: string | null;
  downloader: Downloader;
  installer: Installer;
  health: HealthCheck;
  clock: Clock;
  logger: Logger;
  /** Largest .deb accepted from a URL. Default 64 MiB. */
  maxDebBytes?: number;
  /** How long a freshly installed agent has to become healthy. Default 120 s. */
  healthTimeoutMs?: number;
  /** ... and how long it must then stay healthy. Default 10 s. */
  settleMs?: number;
  pollMs?: number;
}

/** A Debian version as a package may carry it (the URL path accepts any; apt's path only x.y.z). */
const DEB_VERSION_RE = /^[0-9][A-Za-z0-9.+~:-]{0,63}$/;

type Outcome = Omit<UpdateResult, 'format' | 'id' | 'finished_at'>;

/**
 * One run of the root updater: answers the pending request (or finishes one a power cut
 * interrupted), writes result.json for the agent and removes the request. Never throws for
 * anything a request, a download or a package can cause: those end in an error result.
 */
export class Updater {
  private readonly journal: Journal;

  constructor(private readonly deps: UpdaterDeps) {
    this.journal = new Journal(deps.workDir);
  }

  /** 'idle': nothing to do; otherwise the id answered. */
  async runOnce(): Promise<'idle' | string> {
    const { logger } = this.deps;
    mkdirSync(this.deps.workDir, { recursive: true, mode: 0o700 });
    let dir: PinnedDir | null = null;
    try {
      dir = PinnedDir.open(this.deps.agentDir, { ownerUid: this.deps.agentUid, privateToOwner: true });
    } catch (err) {
      if (err instanceof UnsafeFileError) logger.error(`update: ${err.message}: no request is read from it`);
      else if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.error(`update: ${this.deps.agentDir}: ${(err as Error).message}: no request is read from it`);
    }
    try {
      const pending = this.journal.read();
      if (pending) {
        logger.warn(`update: update ${pending.id} was interrupted while ${pending.phase}: finishing it`);
        const outcome = await this.recover(pending);
        if (dir) this.answer(dir, pending.id, outcome);
        return pending.id;
      }
      if (!dir) return 'idle';
      const req = readRequest(dir, this.deps.agentUid);
      if (req === null) return 'idle';
      if (!req.ok) {
        logger.warn(`update: request refused: ${req.reason}`);
        rejectRequest(dir, this.deps.clock.now());
        if (req.id === undefined) return 'idle';
        this.answer(dir, req.id, { status: 'error', error: `request refused: ${req.reason}`, installed_version: await this.installed(), previous_version: null, attempted_version: null, rolled_back: false });
        return req.id;
      }
      const outcome = await this.process(req.request);
      this.answer(dir, req.request.id, outcome);
      return req.request.id;
    } finally {
      dir?.close();
      rmSync(join(this.deps.workDir, 'download'), { recursive: true, force: true });
    }
  }

  private async installed(): Promise<string | null> {
    try {
      return await this.deps.installer.installedVersion();
    } catch {
      return null;
    }
  }

  /** Writes the result, then removes the request (a request left behind would start the updater again). */
  private answer(dir: PinnedDir, id: string, outcome: Outcome): void {
    const result: UpdateResult = { format: 1, id, ...outcome, finished_at: new Date(this.deps.clock.now()).toISOString() };
    dir.writeAtomic(RESULT_FILE, `${JSON.stringify(result)}\n`, { mode: 0o644 });
    const req = readRequest(dir, this.deps.agentUid);
    if (req !== null && (!req.ok || req.request.id === id)) rejectRequest(dir, this.deps.clock.now(), req.ok);
    this.deps.logger.info(`update: ${id}: ${outcome.status === 'ok' ? `${outcome.installed_version} installed and healthy` : outcome.error}`);
  }

  private async process(req: UpdateRequest): Promise<Outcome> {
    const { installer, logger } = this.deps;
    const current = await this.installed();
    const base = { installed_version: current, previous_version: current, attempted_version: 'version' in req ? req.version : null, rolled_back: false };
    try {
      if (current === null) throw new UpdateError(`${PACKAGE_NAME} is not installed (dpkg): nothing to update`);
      const arch = await installer.architecture();
      const downloads = join(this.deps.workDir, 'download');
      rmSync(downloads, { recursive: true, force: true });
      mkdirSync(downloads, { mode: 0o700 });
      let deb: string;
      if ('version' in req) {
        if (req.version === current) return { ...base, status: 'ok' };
        logger.info(`update: ${req.id}: fetching ${PACKAGE_NAME} ${req.version} from the apt source`);
        const got = await installer.fetch(req.version, downloads);
        if (got === null) throw new UpdateError(`version ${req.version} is not available from the configured apt source`);
        deb = got;
      } else {
        if (this.deps.publicKeyFile === null) throw new UpdateError('URL updates need a pinned public key (update.public_key_file in the config file)');
        const key = loadPinnedKey(this.deps.publicKeyFile);
        deb = join(downloads, 'download.deb');
        logger.info(`update: ${req.id}: downloading ${req.url}`);
        await this.deps.downloader.download(req.url, deb, this.deps.maxDebBytes ?? 64 * 1024 * 1024);
        const sha = await sha256File(deb);
        if (sha !== req.sha256) throw new UpdateError(`sha256 mismatch: expected ${req.sha256}, the download has ${sha}`);
        if (!signatureValid(deb, req.signature, key)) throw new UpdateError(`the signature does not verify against the pinned key ${this.deps.publicKeyFile}`);
      }
      const info = await installer.debInfo(deb);
      if (info.package !== PACKAGE_NAME) throw new UpdateError(`the package is "${info.package.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}", not ${PACKAGE_NAME}`);
      if (info.architecture !== arch && info.architecture !== 'all') throw new UpdateError(`the package is for ${info.architecture.slice(0, 32)}, this machine is ${arch}`);
      if (!DEB_VERSION_RE.test(info.version)) throw new UpdateError('the package has an unusable version');
      if ('version' in req && info.version !== req.version) throw new UpdateError(`apt delivered version ${info.version}, not ${req.version}`);
      base.attempted_version = info.version;
      if (info.version === current) return { ...base, status: 'ok' };
      const previous = await this.rollbackPackage(current, arch, downloads);
      const entry: JournalEntry = { id: req.id, phase: 'installing', architecture: arch, previous_version: current, previous_deb: previous, attempted_version: info.version, candidate_deb: deb, started_at: new Date(this.deps.clock.now()).toISOString() };
      return await this.installAndCheck(entry);
    } catch (err) {
      // Before the install nothing has changed: any failure (a full disk too) is an error result.
      return { ...base, status: 'error', error: this.reason(err) };
    }
  }

  /** One line for the result; a stack for the journal when it is not one of ours. */
  private reason(err: unknown): string {
    if (err instanceof UpdateError) return err.message;
    this.deps.logger.error(`update: unexpected: ${(err as Error).stack ?? String(err)}`);
    return `internal error: ${((err as Error).message ?? String(err)).split('\n')[0]}`;
  }

  /** The .deb of the installed version: from the cache of the last good one, else from apt. */
  private async rollbackPackage(version: string, arch: string, downloads: string): Promise<string> {
    const cache = join(this.deps.workDir, 'last-good');
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(cache)) {
      if (f.startsWith(`${PACKAGE_NAME}_${version}_`) && f.endsWith('.deb')) {
        const info = await this.deps.installer.debInfo(join(cache, f)).catch(() => null);
        if (info?.version === version && info.package === PACKAGE_NAME) return join(cache, f);
      }
    }
    const fetched = await this.deps.installer.fetch(version, downloads).catch((err: unknown) => {
      this.deps.logger.warn(`update: the installed version ${version} cannot be fetched for a rollback: ${(err as Error).message}`);
      return null;
    });
    if (fetched === null) throw new UpdateError(`no package of the installed version ${version} to roll back to (not in ${cache}, not in the apt source): update refused`);
    const kept = join(cache, `${PACKAGE_NAME}_${version}_${arch}.deb`);
    copyFileSync(fetched, kept);
    return kept;
  }

  private async installAndCheck(entry: JournalEntry): Promise<Outcome> {
    const { installer, logger } = this.deps;
    this.journal.write(entry);
    const since = this.deps.clock.now();
    logger.info(`update: ${entry.id}: installing ${PACKAGE_NAME} ${entry.attempted_version} (rollback: ${entry.previous_version})`);
    let why: string;
    try {
      await installer.install(entry.candidate_deb);
      await this.startAgent();
      const health = await this.waitHealthy(entry.attempted_version, since);
      if (health.healthy) {
        this.keepAsLastGood(entry);
        this.journal.clear();
        return { status: 'ok', installed_version: entry.attempted_version, previous_version: entry.previous_version, attempted_version: entry.attempted_version, rolled_back: false };
      }
      why = `the agent ${entry.attempted_version} was not healthy within ${Math.round((this.deps.healthTimeoutMs ?? 120_000) / 1000)} s: ${health.why}`;
    } catch (err) {
      // Whatever failed once dpkg may have run, the previous release goes back.
      why = this.reason(err);
    }
    return this.rollback(entry, why);
  }

  private async rollback(entry: JournalEntry, why: string): Promise<Outcome> {
    const { installer, logger } = this.deps;
    this.journal.write({ ...entry, phase: 'rolling-back', reason: why });
    logger.error(`update: ${entry.id}: ${why}: rolling back to ${entry.previous_version}`);
    const base = { status: 'error' as const, previous_version: entry.previous_version, attempted_version: entry.attempted_version, rolled_back: true };
    const since = this.deps.clock.now();
    try {
      await installer.reinstall(entry.previous_deb);
      await this.startAgent();
    } catch (err) {
      // The journal stays: the updater's next run (the next request) tries the rollback again first.
      return { ...base, installed_version: await this.installed(), error: `${why}; the rollback to ${entry.previous_version} failed: ${this.reason(err)}` };
    }
    const health = await this.waitHealthy(entry.previous_version, since);
    this.journal.clear();
    const after = health.healthy ? '' : `; the agent ${entry.previous_version} is not healthy either: ${health.why}`;
    return { ...base, installed_version: await this.installed(), error: `${why}; rolled back to ${entry.previous_version}${after}` };
  }

  /** After a power cut: dpkg finishes, then the install is judged (or the rollback redone). */
  private async recover(entry: JournalEntry): Promise<Outcome> {
    try {
      await this.deps.installer.repair();
    } catch (err) {
      this.deps.logger.warn(`update: ${(err as Error).message}`);
    }
    if (entry.phase === 'rolling-back') return this.rollback(entry, entry.reason ?? 'interrupted');
    const installed = await this.installed();
    await this.startAgent();
    if (installed !== entry.attempted_version) return this.rollback(entry, `the install of ${entry.attempted_version} was interrupted (installed: ${installed ?? 'none'})`);
    // Since the install began: the agent may have started at boot before this run.
    const health = await this.waitHealthy(entry.attempted_version, Date.parse(entry.started_at) || 0);
    if (!health.healthy) return this.rollback(entry, `the agent ${entry.attempted_version} was not healthy after the interrupted install: ${health.why}`);
    this.keepAsLastGood(entry);
    this.journal.clear();
    return { status: 'ok', installed_version: installed, previous_version: entry.previous_version, attempted_version: entry.attempted_version, rolled_back: false };
  }

  private async startAgent(): Promise<void> {
    await this.deps.health.startAgent().catch((err: unknown) => this.deps.logger.warn(`update: starting the agent: ${(err as Error).message}`));
  }

  /** Healthy for settleMs in a row, within healthTimeoutMs; else the last reason. */
  private async waitHealthy(version: string, since: number): Promise<{ healthy: boolean; why: string }> {
    const { clock, health } = this.deps;
    const deadline = clock.now() + (this.deps.healthTimeoutMs ?? 120_000);
    const settle = this.deps.settleMs ?? 10_000;
    let healthySince: number | null = null;
    let last = 'not checked';
    for (;;) {
      const h = await health.check(version, since).catch((err: unknown) => ({ healthy: false, why: `health check failed: ${(err as Error).message}` }));
      last = h.why;
      const now = clock.now();
      healthySince = h.healthy ? (healthySince ?? now) : null;
      if (healthySince !== null && now - healthySince >= settle) return { healthy: true, why: h.why };
      if (now >= deadline) return { healthy: false, why: last };
      await clock.sleep(this.deps.pollMs ?? 2000);
    }
  }

  /** The installed .deb becomes the rollback package of the next update; older ones go. */
  private keepAsLastGood(entry: JournalEntry): void {
    const cache = join(this.deps.workDir, 'last-good');
    const name = `${PACKAGE_NAME}_${entry.attempted_version}_${entry.architecture}.deb`;
    try {
      mkdirSync(cache, { recursive: true, mode: 0o700 });
      const tmp = join(cache, `.${name}.tmp`);
      copyFileSync(entry.candidate_deb, tmp);
      renameSync(tmp, join(cache, name));
      for (const f of readdirSync(cache)) if (f !== name) rmSync(join(cache, f), { force: true });
    } catch (err) {
      // The update itself worked; the next one fetches its rollback package from apt.
      this.deps.logger.warn(`update: cannot keep ${name} for rollbacks: ${(err as Error).message}`);
    }
  }
}
