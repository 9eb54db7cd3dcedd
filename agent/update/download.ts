import { closeSync, createWriteStream, fsyncSync, openSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { get, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { urlProblem } from './protocol.js';
import { UpdateError } from './verify.js';

/** Fetches a URL into a new file, or throws UpdateError; nothing else of the system changes. */
export interface Downloader {
  download(url: string, dest: string, maxBytes: number): Promise<void>;
}

export interface HttpsDownloaderOptions {
  /** Trust anchors instead of the system's (tests: their own CA). */
  ca?: string | Buffer;
  /** No byte for this long: give up. Default 30 s. */
  idleTimeoutMs?: number;
  /** The whole download. Default 10 min. */
  totalTimeoutMs?: number;
  maxRedirects?: number;
}

/** https only, redirects only to https, certificates verified, bounded in size and time. */
export class HttpsDownloader implements Downloader {
  constructor(private readonly opts: HttpsDownloaderOptions = {}) {}

  async download(url: string, dest: string, maxBytes: number): Promise<void> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.request(current);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (hop >= (this.opts.maxRedirects ?? 5)) throw new UpdateError(`download: more than ${this.opts.maxRedirects ?? 5} redirects`);
        let next: string;
        try {
          next = new URL(res.headers.location, current).toString();
        } catch {
          throw new UpdateError('download: redirect to an invalid URL');
        }
        const problem = urlProblem(next);
        if (problem) throw new UpdateError(`download: redirect refused: the target ${problem}`);
        current = next;
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw new UpdateError(`download: HTTP ${status} from ${new URL(current).host}`);
      }
      const length = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(length) && length > maxBytes) {
        res.destroy();
        throw new UpdateError(`download: ${length} bytes is more than the ${maxBytes}-byte limit`);
      }
      await this.save(res, dest, maxBytes);
      return;
    }
  }

  private request(url: string): Promise<IncomingMessage> {
    const options: RequestOptions = { timeout: this.opts.idleTimeoutMs ?? 30_000, headers: { 'user-agent': 'fleetprobe-update' } };
    if (this.opts.ca) options.ca = this.opts.ca;
    return new Promise((resolve, reject) => {
      const req = get(url, options, resolve);
      req.on('timeout', () => req.destroy(new UpdateError('download: no answer (timeout)')));
      req.on('error', (err) => reject(err instanceof UpdateError ? err : new UpdateError(`download: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    });
  }

  private async save(res: IncomingMessage, dest: string, maxBytes: number): Promise<void> {
    let bytes = 0;
    const cap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(bytes > maxBytes ? new UpdateError(`download: more than the ${maxBytes}-byte limit`) : null, chunk);
      },
    });
    const total = setTimeout(() => res.destroy(new UpdateError('download: took too long')), this.opts.totalTimeoutMs ?? 600_000);
    res.setTimeout(this.opts.idleTimeoutMs ?? 30_000, () => res.destroy(new UpdateError('download: stalled (timeout)')));
    try {
      // 'wx': a new file; O_EXCL also refuses a symlink already at dest.
      await pipeline(res, cap, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
      if (!res.complete) throw new UpdateError('download: connection closed early');
    } catch (err) {
      if (err instanceof UpdateError) throw err;
      throw new UpdateError(`download: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    } finally {
      clearTimeout(total);
    }
    const fd = openSync(dest, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
