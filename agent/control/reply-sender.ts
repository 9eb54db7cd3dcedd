import type { CommandReply } from '../core/control.js';
import type { Logger } from '../core/logger.js';
import type { Transport } from '../core/uplink.js';

export const REPLIES_SUBFOLDER = 'replies';
/** Replies kept for the next connection when the current one drops; older ones give way. */
const PENDING_MAX = 100;

/**
 * Publishes replies on /devices/{id}/events/replies. A reply that cannot be published (the
 * connection dropped meanwhile) is kept, bounded, and published after the next connect:
 * the broker acknowledged the command, so it will not come again to be answered.
 */
export class ReplySender {
  private readonly pending = new Map<string, CommandReply>();
  private readonly onConnected = (): void => this.resend();

  constructor(
    private readonly transport: Transport,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.transport.on('connected', this.onConnected);
  }

  stop(): void {
    this.transport.off('connected', this.onConnected);
  }

  /** Resolves true once the broker acknowledged the reply; false when it is kept for later. */
  async send(reply: CommandReply): Promise<boolean> {
    try {
      await this.transport.publishEvent(Buffer.from(JSON.stringify(reply)), REPLIES_SUBFOLDER);
      this.pending.delete(reply.id);
      return true;
    } catch (err) {
      this.pending.delete(reply.id);
      this.pending.set(reply.id, reply);
      if (this.pending.size > PENDING_MAX) this.pending.delete(this.pending.keys().next().value!);
      this.logger.debug(`control: reply to ${reply.id} not published (${(err as Error).message}); kept for the next connection`);
      return false;
    }
  }

  private resend(): void {
    const replies = [...this.pending.values()];
    this.pending.clear();
    for (const r of replies) void this.send(r);
  }
}
