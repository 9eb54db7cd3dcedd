import type { Logger } from '../core/logger.js';

interface Pending {
  rows: number;
  since: number;
}

/**
 * Drops are never silent, but a full outbox drops something every round: the first drop
 * of a kind is logged at once, later ones are summed and logged at most once per interval
 * (on the next drop after it, or at close). No timers: nothing runs in the background.
 */
export class DropReporter {
  private readonly lastLogged = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly prefix: string,
    private readonly intervalMs = 60_000,
  ) {}

  report(reason: string, rows: number, droppedTotal: number): void {
    if (rows <= 0) return;
    const t = this.now().getTime();
    const p = this.pending.get(reason) ?? { rows: 0, since: t };
    p.rows += rows;
    const last = this.lastLogged.get(reason);
    if (last !== undefined && t - last < this.intervalMs) {
      this.pending.set(reason, p);
      return;
    }
    this.pending.delete(reason);
    this.lastLogged.set(reason, t);
    this.write(reason, p, droppedTotal, t);
  }

  /** Logs what was held back (at close, so no drop goes unreported). */
  flush(droppedTotal: number): void {
    const t = this.now().getTime();
    for (const [reason, p] of this.pending) this.write(reason, p, droppedTotal, t);
    this.pending.clear();
  }

  private write(reason: string, p: Pending, droppedTotal: number, t: number): void {
    const span = t - p.since >= 1000 ? ` in the last ${Math.round((t - p.since) / 1000)} s` : '';
    this.logger.warn(`${this.prefix}dropped ${p.rows} unsent result${p.rows === 1 ? '' : 's'}${span} (${reason}); ${droppedTotal} dropped in total`);
  }
}
