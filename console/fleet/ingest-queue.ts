import type { IngestItem, IngestOutcome, Store } from '../store/store.js';

interface Pending {
  item: IngestItem;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Group commit: items that arrive while a transaction runs go into the next one together, so
 * 1,000 devices cost a handful of fsyncs a second, not 1,000. Each caller's promise settles
 * when its item is on disk (that is when the broker may acknowledge the message).
 */
export class IngestQueue {
  private queue: Pending[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly store: Pick<Store, 'ingest'>,
    private readonly onOutcome: (outcome: IngestOutcome) => void,
    private readonly maxItems = 2000,
  ) {}

  add(item: IngestItem): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the console is stopping'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxItems);
      try {
        const outcome = await this.store.ingest(batch.map((p) => p.item));
        for (const p of batch) p.resolve();
        this.onOutcome(outcome);
      } catch (err) {
        for (const p of batch) p.reject(err as Error);
      }
    }
    this.scheduled = false;
  }

  /** Refuses new items; what is queued is still written. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.scheduled) await new Promise((r) => setImmediate(r));
  }
}
