import type { Logger } from '../core/logger.js';

type Listener = (...args: never[]) => void;

/**
 * A typed listener registry whose emit never throws: a buggy listener must not break the
 * connection loop that called it.
 */
export class Listeners<Events extends { [K in keyof Events]: Listener }> {
  private readonly map = new Map<keyof Events, Set<Listener>>();

  constructor(private readonly logger: Logger) {}

  on<E extends keyof Events>(event: E, listener: Events[E]): void {
    let set = this.map.get(event);
    if (!set) this.map.set(event, (set = new Set()));
    set.add(listener);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.map.get(event)?.delete(listener);
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    for (const listener of [...(this.map.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (err) {
        this.logger.error(`uplink: ${String(event)} listener threw: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }
}
