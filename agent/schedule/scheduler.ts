import schedule from 'node-schedule';
import type { Logger } from '../core/logger.js';

/** Monotonic time for scheduling (immune to wall-clock steps, e.g. a Pi's first NTP sync). */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const realTimers: Timers = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

const SKIP_LOG_EVERY_MS = 60_000;

export interface Task {
  name: string;
  /** Seconds between round starts; or a cron expression (node-schedule syntax). */
  every_s?: number;
  cron?: string;
  run(roundStart: Date): Promise<void>;
}

export interface TaskStats {
  rounds: number;
  skipped: number;
}

interface Entry {
  task: Task;
  stats: TaskStats;
  running: Promise<void> | null;
  anchor: number;
  offset: number;
  cancel: () => void;
}

/**
 * Runs tasks on fixed grids: round n of a task starts at anchor + offset + n x every, so
 * lateness never accumulates. A round still running when the next is due makes that next
 * one skipped (and counted), never queued. Interval tasks are spread over their interval so
 * that many targets do not all fire at second 0.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private lastSkipLog = -Infinity;
  private skipsLogged = 0;

  constructor(
    private readonly logger: Logger,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Replaces the task set; offsets spread interval tasks evenly (k/N of each interval). */
  setTasks(tasks: readonly Task[]): void {
    for (const e of this.entries.values()) e.cancel();
    this.entries.clear();
    const anchor = this.timers.now();
    tasks.forEach((task, k) => {
      if (this.entries.has(task.name)) throw new Error(`duplicate task name: ${task.name}`);
      const entry: Entry = { task, stats: { rounds: 0, skipped: 0 }, running: null, anchor, offset: 0, cancel: () => undefined };
      this.entries.set(task.name, entry);
      if (task.cron !== undefined) this.startCron(entry, task.cron);
      else if (task.every_s !== undefined && task.every_s > 0) {
        entry.offset = (k / tasks.length) * task.every_s * 1000;
        this.armInterval(entry, 0);
      } else throw new Error(`task ${task.name} has neither every_s nor cron`);
    });
  }

  stats(name: string): TaskStats | undefined {
    return this.entries.get(name)?.stats;
  }

  get skippedTotal(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.stats.skipped;
    return n;
  }

  /** Stops scheduling and waits for rounds in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    const running: Promise<void>[] = [];
    for (const e of this.entries.values()) {
      e.cancel();
      if (e.running) running.push(e.running);
    }
    await Promise.allSettled(running);
  }

  private armInterval(entry: Entry, n: number): void {
    const every = entry.task.every_s! * 1000;
    const due = entry.anchor + entry.offset + n * every;
    const timer = this.timers.setTimeout(() => {
      this.fire(entry);
      // The next slot on the grid after now; slots missed while the process was stalled
      // or suspended count as skipped rounds.
      const now = this.timers.now();
      const next = Math.max(n + 1, Math.floor((now - entry.anchor - entry.offset) / every) + 1);
      entry.stats.skipped += next - n - 1;
      if (!this.stopped && this.entries.get(entry.task.name) === entry) this.armInterval(entry, next);
    }, Math.max(0, due - this.timers.now()));
    entry.cancel = () => timer.cancel();
  }

  private startCron(entry: Entry, cron: string): void {
    const job = schedule.scheduleJob(cron, () => this.fire(entry));
    if (!job) throw new Error(`invalid cron expression for ${entry.task.name}: ${cron}`);
    entry.cancel = () => job.cancel();
  }

  /** At most one line a minute: an overloaded agent must not flood the journal. */
  private reportSkip(entry: Entry): void {
    const now = this.timers.now();
    if (now - this.lastSkipLog < SKIP_LOG_EVERY_MS) return;
    const since = Math.max(1, this.skippedTotal - this.skipsLogged);
    this.skipsLogged = this.skippedTotal;
    this.lastSkipLog = now;
    this.logger.warn(`${entry.task.name}: round skipped, the previous one is still running (${since} round(s) skipped since the last such line)`);
  }

  private fire(entry: Entry): void {
    if (this.stopped) return;
    if (entry.running) {
      entry.stats.skipped++;
      this.reportSkip(entry);
      return;
    }
    entry.stats.rounds++;
    entry.running = entry.task
      .run(new Date())
      .catch((err: unknown) => this.logger.error(`${entry.task.name}: round failed: ${(err as Error).message}`))
      .finally(() => {
        entry.running = null;
      });
  }
}
