import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

// The web UI's files, read once at start into memory: a fixed table of names, so no request
// path ever reaches the file system (no traversal to guard against), each with an ETag and
// a gzip copy.

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** What the pages may do: scripts and styles from this console only, nothing inline, no framing. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Not no-referrer: that makes browsers send "Origin: null" on form posts, which the origin check refuses.
    'referrer-policy': 'same-origin',
  };
}

/** console/web in the source tree, seen from dist/console/http/. */
export function defaultWebRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'console', 'web');
}

export class StaticAssets {
  private readonly assets = new Map<string, Asset>();

  /** Why the UI cannot be served (its files are not installed); null when it can. The API works either way. */
  readonly problem: string | null = null;

  /** Files of `webRoot` by name, plus uPlot from node_modules as vendor/uplot.js and vendor/uplot.css. */
  constructor(webRoot: string) {
    try {
      for (const name of readdirSync(webRoot)) {
        const ext = name.slice(name.lastIndexOf('.'));
        if (/^[a-z0-9-]+\.[a-z]+$/.test(name) && TYPES[ext]) this.add(name, readFileSync(join(webRoot, name)), TYPES[ext]);
      }
      const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot'));
      this.add('vendor/uplot.js', readFileSync(join(uplotDir, 'uPlot.esm.js')), TYPES['.js']!);
      this.add('vendor/uplot.css', readFileSync(join(uplotDir, 'uPlot.min.css')), TYPES['.css']!);
      if (!this.assets.has('index.html')) throw new Error(`no index.html in ${webRoot}`);
    } catch (err) {
      this.assets.clear();
      this.problem = `the web UI's files are not installed (${(err as Error).message})`;
    }
  }

  has(name: string): boolean {
    return this.assets.has(name);
  }

  private add(name: string, body: Buffer, type: string): void {
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    this.assets.set(name, { body, gzip: gzipSync(body), type, etag });
  }

  /** Sends the asset; false if there is none by that name. */
  send(name: string, req: IncomingMessage, res: ServerResponse, extra: Record<string, string> = {}): boolean {
    const a = this.assets.get(name);
    if (!a) return false;
    const headers: Record<string, string> = {
      ...securityHeaders(),
      'content-type': a.type,
      etag: a.etag,
      // Revalidated every time: cheap with the ETag, and an upgrade is seen at once.
      'cache-control': 'no-cache',
      vary: 'accept-encoding',
      ...extra,
    };
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gz ? a.gzip : a.body;
    res.writeHead(200, { ...headers, ...(gz ? { 'content-encoding': 'gzip' } : {}), 'content-length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
