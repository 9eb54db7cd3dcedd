import type { OutboxItem } from '../core/outbox.js';

export interface Batch {
  payload: Buffer;
  seqs: number[];
}

export type BatchResult =
  | { kind: 'batch'; batch: Batch; /** Items that did not fit; they lead the next batch. */ rest: number }
  | { kind: 'oversize'; item: OutboxItem; bytes: number };

/**
 * Builds the telemetry message from the stored JSON strings without parsing them:
 * `{"schema":1,"device":..,"stream":..,"results":[{"seq":N,<record minus its "{">,...]}`.
 * Takes the longest prefix of `items` that fits `maxBytes`; a first item that cannot fit
 * even alone is reported so the caller can drop it.
 */
export class BatchBuilder {
  private readonly head: string;
  private readonly headBytes: number;

  constructor(deviceId: string, stream: string) {
    this.head = `{"schema":1,"device":${JSON.stringify(deviceId)},"stream":${JSON.stringify(stream)},"results":[`;
    this.headBytes = Buffer.byteLength(this.head);
  }

  /** Bytes available for records in one message (what to ask the outbox for). */
  budget(maxBytes: number): number {
    return Math.max(1, maxBytes - this.headBytes - 2);
  }

  build(items: readonly OutboxItem[], maxBytes: number): BatchResult {
    const parts: string[] = [this.head];
    const seqs: number[] = [];
    let bytes = this.headBytes + 2; // "]}"
    for (const item of items) {
      const part = (seqs.length > 0 ? ',' : '') + withSeq(item);
      const partBytes = Buffer.byteLength(part);
      if (bytes + partBytes > maxBytes) {
        if (seqs.length === 0) return { kind: 'oversize', item, bytes: bytes + partBytes };
        break;
      }
      parts.push(part);
      seqs.push(item.seq);
      bytes += partBytes;
    }
    parts.push(']}');
    const payload = Buffer.from(parts.join(''));
    return { kind: 'batch', batch: { payload, seqs }, rest: items.length - seqs.length };
  }
}

function withSeq(item: OutboxItem): string {
  // Records are JSON objects; an empty one must not become `{"seq":1,}`.
  return item.json === '{}' ? `{"seq":${item.seq}}` : `{"seq":${item.seq},${item.json.slice(1)}`;
}
