// A plain mqtt.js client for tests: subscribes, collects every message, and publishes
// (the "cloud side" that sends config and commands to a device).
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export interface ReceivedMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
}

export class MqttSubscriber {
  readonly messages: ReceivedMessage[] = [];
  private waiters: (() => void)[] = [];

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, qos: packet.qos, retain: packet.retain });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Connects (clean session, no reconnects) and subscribes with QoS 1 to every filter. */
  static async connect(url: string, filters: readonly string[], opts: IClientOptions = {}): Promise<MqttSubscriber> {
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, clientId: `fp-sub-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, ...opts });
    client.on('error', () => undefined);
    const sub = new MqttSubscriber(client);
    if (filters.length > 0) await client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])));
    return sub;
  }

  on(topic: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Resolves with the first message (already received or arriving) that matches. */
  async waitFor(match: (m: ReceivedMessage) => boolean, timeoutMs = 5000, what = 'message'): Promise<ReceivedMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (got ${this.messages.length}: ${this.messages.slice(-5).map((m) => m.topic).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Resolves once `count` messages matching have arrived. */
  async waitForCount(match: (m: ReceivedMessage) => boolean, count: number, timeoutMs = 5000): Promise<ReceivedMessage[]> {
    let got: ReceivedMessage[] = [];
    await this.waitFor(() => (got = this.messages.filter(match)).length >= count, timeoutMs, `${count} messages`).catch((err: Error) => {
      throw new Error(`${err.message}; ${got.length} matched`);
    });
    return got;
  }

  async publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
