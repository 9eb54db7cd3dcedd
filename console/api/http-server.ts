import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../../agent/core/logger.js';
import type { ConsoleUi } from '../http/ui-routes.js';
import type { ApiAuth } from './admin-auth.js';

// JSON over node:http: no framework, one small router. Auth is checked before routing, so
// that every path under /api/ (unknown ones included) answers 401 without the token.

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** The body as text (bounded), read lazily. */
  text(): Promise<string>;
  json(): Promise<unknown>;
}

export interface Reply {
  status?: number;
  body: unknown;
  /** Plain text instead of JSON (e.g. generated files). */
  contentType?: string;
}

export type Handler = (req: Request) => Promise<Reply>;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  list(): Array<{ method: string; pattern: string }> {
    return this.routes.map((r) => ({ method: r.method, pattern: `/${r.parts.join('/')}` }));
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'method' | null {
    const parts = path.split('/').filter(Boolean);
    let methodMismatch = false;
    for (const r of this.routes) {
      if (r.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = r.parts.every((p, i) => {
        if (p.startsWith(':')) {
          params[p.slice(1)] = decodeURIComponent(parts[i]!);
          return true;
        }
        return p === parts[i];
      });
      if (!ok) continue;
      if (r.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { handler: r.handler, params };
    }
    return methodMismatch ? 'method' : null;
  }
}

const MAX_BODY = 4 * 1024 * 1024;

export class HttpApi {
  private server: http.Server | null = null;

  constructor(private readonly deps: { router: Router; auth: ApiAuth; logger: Logger; ui?: ConsoleUi }) {}

  async listen(host: string, port: number): Promise<number> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const method = req.method ?? 'GET';
    try {
      // The web UI (issue 8): its pages and login; a session without its CSRF token gets a 403.
      if (this.deps.ui && (await this.deps.ui.handle(req, res))) return;
      if (this.deps.ui?.authorize({ headers: req.headers, method }) === 'forbidden') throw new HttpError(403, 'missing or wrong CSRF token, or a request from another site');
      if (!this.deps.auth.check({ headers: req.headers, method })) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="fleetprobe-console"');
        throw new HttpError(401, 'authentication required: send Authorization: Bearer <admin token>');
      }
      if (!url.pathname.startsWith('/api/')) throw new HttpError(404, `no such path ${url.pathname} (the API is under /api/)`);
      const m = this.deps.router.match(method, url.pathname);
      if (m === 'method') throw new HttpError(405, `${method} is not allowed on ${url.pathname}`);
      if (m === null) throw new HttpError(404, `no such API route ${url.pathname}`);
      let body: Promise<string> | null = null;
      const text = (): Promise<string> => (body ??= readBody(req));
      const reply = await m.handler({
        method, path: url.pathname, params: m.params, query: url.searchParams, headers: req.headers, text,
        json: async () => {
          const t = await text();
          try {
            return JSON.parse(t) as unknown;
          } catch (err) {
            throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
          }
        },
      });
      send(res, reply.status ?? 200, reply.body, reply.contentType);
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, { error: err.message, ...err.extra });
      else if (err instanceof z.ZodError) send(res, 400, { error: 'invalid request', problems: err.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`) });
      else {
        this.deps.logger.error(`api: ${method} ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
        send(res, 500, { error: 'internal error (see the console log)' });
      }
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  if (res.headersSent) return;
  const text = contentType ? String(body) : JSON.stringify(body, null, 1);
  res.writeHead(status, {
    'Content-Type': contentType ?? 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, `request body over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
