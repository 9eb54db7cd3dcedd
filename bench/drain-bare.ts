// The yardstick for drain-rate.ts: a bare mqtt.js QoS 1 publisher sending messages of given
// sizes with a fixed in-flight window, nothing else (no outbox, no JSON building).
import { connectAsync } from 'mqtt';

export interface BareResult {
  messages: number;
  bytes: number;
  seconds: number;
}

/** Publishes one message per entry of `sizes` (bytes) to `topic`, at most `window` unacknowledged. */
export async function barePublish(url: string, topic: string, sizes: readonly number[], window: number): Promise<BareResult> {
  const client = await connectAsync(url, { clientId: `fp-bench-bare-${process.pid}`, reconnectPeriod: 0, clean: true, protocolVersion: 4, queueQoSZero: false });
  const largest = Math.max(...sizes);
  // JSON-looking filler, so the broker sees the same kind of bytes.
  const filler = Buffer.from('{"seq":1,"name":"probe-1","rtts_ms":[1.234,2.345,3.456,4.567],"ttl":58},'.repeat(Math.ceil(largest / 70)).slice(0, largest));
  let next = 0;
  let bytes = 0;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let inflight = 0;
    let acked = 0;
    const pump = (): void => {
      while (inflight < window && next < sizes.length) {
        const size = sizes[next++]!;
        inflight++;
        client.publish(topic, filler.subarray(0, size), { qos: 1 }, (err) => {
          if (err) return reject(err);
          inflight--;
          acked++;
          bytes += size;
          if (acked === sizes.length) resolve();
          else pump();
        });
      }
    };
    if (sizes.length === 0) resolve();
    else pump();
  });
  const seconds = (performance.now() - started) / 1000;
  await client.endAsync();
  return { messages: sizes.length, bytes, seconds };
}
