// The console's side of MQTT, whichever broker carries it: the embedded aedes broker (the
// console is inside it) or an external one (the console is a privileged client).

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

export interface BusHandlers {
  /**
   * A device's message. Resolves once it is stored: the broker acknowledges a QoS 1 message
   * only then, so a console crash makes the device (or the broker) send it again. Rejects
   * when it cannot be stored: it is not acknowledged.
   */
  message(msg: InboundMessage): Promise<void>;
  /** The embedded broker saw a device connect or disconnect (an external broker has the status topic). */
  presence(device: string, online: boolean): void;
  /** The bus (re)connected: publishes that failed meanwhile can be retried. */
  connected(): void;
}

export interface BusStats {
  mode: 'embedded' | 'external';
  /** Where devices connect (embedded) or the broker the console uses (external), without credentials. */
  endpoints: string[];
  connected: boolean;
  /** Device connections right now; null where the console cannot see them (external broker). */
  deviceConnections: number | null;
  /** Connection attempts refused since start (embedded broker). */
  refusedConnects: number;
  /** Publishes and subscriptions refused by the ACL since start (embedded broker). */
  refusedTopics: number;
}

export interface Bus {
  start(handlers: BusHandlers): Promise<void>;
  /** QoS 1; resolves when the broker has it (external: PUBACK). */
  publish(topic: string, payload: Buffer, opts: { retain: boolean }): Promise<void>;
  stats(): BusStats;
  /** Ends the device's live connection, if this broker can (embedded); false otherwise. */
  disconnect(device: string): boolean;
  stop(): Promise<void>;
}

export class BusUnavailableError extends Error {
  override readonly name = 'BusUnavailableError';
}
