/** Where an incoming control message came from: the device's config topic or a command topic. */
export type ControlKind = 'config' | 'command';

export interface ControlMessage {
  kind: ControlKind;
  topic: string;
  payload: Buffer;
}

export interface TransportEvents {
  connected: () => void;
  disconnected: (reason: string) => void;
  control: (msg: ControlMessage) => void;
}

/**
 * An MQTT connection speaking the device topic layout (/devices/{id}/events|state|config|
 * commands) for one profile (plain MQTT or Cloud IoT Core). It reconnects by itself with
 * capped, jittered backoff; it never queues publishes while offline (the outbox does).
 */
export interface Transport {
  readonly connected: boolean;
  /** Largest payload the broker accepts on the events topic (256 KB on IoT Core). */
  readonly maxEventBytes: number;
  start(): void;
  /** Graceful: waits (bounded) for in-flight publishes, then disconnects. */
  stop(): Promise<void>;
  /** QoS 1 on /devices/{id}/events[/subfolder]; resolves on PUBACK, rejects if the connection drops first. */
  publishEvent(payload: Buffer, subfolder?: string): Promise<void>;
  /** QoS 1 on /devices/{id}/state (rate-limited by the transport to the profile's limit). */
  publishState(payload: Buffer): Promise<void>;
  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void;
  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): void;
}
