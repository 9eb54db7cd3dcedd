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
 *
 * It encodes each record straight into one scratch buffer: concatenating 500 strings and
 * encoding the result cost five times as much, and this is the drain's hot path.
 */
export class BatchBuilder {
  private stream = '';
  private head = '';
  private headBytes = 0;
  private scratch = Buffer.alloc(0);

  constructor(private readonly deviceId: string) {}

  /** Bytes available for records in one message of `stream` (what to ask the outbox for). */
  budget(stream: string, maxBytes: number): number {
    this.setStream(stream);
    return Math.max(1, maxBytes - this.headBytes - 2);
  }

  build(stream: string, items: readonly OutboxItem[], maxBytes: number): BatchResult {
    this.setStream(stream);
    if (this.scratch.length < maxBytes) this.scratch = Buffer.allocUnsafe(maxBytes);
    const buf = this.scratch;
    const end = maxBytes - 2; // room for "]}"
    let p = this.headBytes <= end ? buf.write(this.head, 0) : end + 1;
    const seqs: number[] = [];
    for (const item of items) {
      const written = this.append(buf, p, end, item, seqs.length === 0);
      if (written < 0) {
        if (seqs.length === 0) return { kind: 'oversize', item, bytes: this.headBytes + 2 + Buffer.byteLength(`{"seq":${item.seq},`) + Buffer.byteLength(item.json) - 1 };
        break;
      }
      p += written;
      seqs.push(item.seq);
    }
    p += buf.write(']}', p, 'latin1');
    // A right-sized copy: the scratch buffer is reused while this payload is in flight.
    const payload = Buffer.allocUnsafe(p);
    buf.copy(payload, 0, 0, p);
    return { kind: 'batch', batch: { payload, seqs }, rest: items.length - seqs.length };
  }

  /** Writes `[,]{"seq":N,<json minus "{">` at p; returns its bytes, or -1 if it does not fit before `end`. */
  private append(buf: Buffer, p: number, end: number, item: OutboxItem, first: boolean): number {
    const prefix = first ? `{"seq":${item.seq}` : `,{"seq":${item.seq}`;
    // Characters are a lower bound for UTF-8 bytes: a cheap early "no".
    if (p + prefix.length + item.json.length > end) return -1;
    p += buf.write(prefix, p, 'latin1');
    if (item.json === '{}') {
      buf[p] = 0x7d; // `}`: an empty record must not become `{"seq":1,}`
      return prefix.length + 1;
    }
    const room = end - p;
    const written = buf.write(item.json, p, room);
    // write() stops early (within 3 bytes of the room) only when the string does not fit.
    if (room - written <= 3 && written !== Buffer.byteLength(item.json)) return -1;
    buf[p] = 0x2c; // the record's own "{" becomes the comma after seq
    return prefix.length + written;
  }

  // The outbox may start a new stream (recovery from a corrupt file) while we run.
  private setStream(stream: string): void {
    if (stream === this.stream && this.head !== '') return;
    this.stream = stream;
    this.head = `{"schema":1,"device":${JSON.stringify(this.deviceId)},"stream":${JSON.stringify(stream)},"results":[`;
    this.headBytes = Buffer.byteLength(this.head);
  }
}
