import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ApiAuth } from '../api/admin-auth.js';
import type { Store } from '../store/store.js';
import { handleUiApi, HttpError, readBody, sendJson } from './ui-api.js';
import { loginPage } from './ui-login-page.js';
import {
  clearedCookie, cookieValue, CSRF_HEADER, DEFAULT_SESSION_OPTIONS, isCrossOrigin, isStateChanging, sameSecret, SESSION_COOKIE,
  sessionCookie, SessionStore, type Session, type SessionOptions,
} from './ui-session.js';
import { defaultWebRoot, securityHeaders, StaticAssets } from './ui-static.js';

// The web UI's part of the console's HTTP server: pages and files under /ui/, login and
// logout, and the extra read-only API under /api/ui/. The core API accepts a browser
// session through authorize(): the composition root wires it next to the admin token.

export interface ConsoleUiDeps {
  store: Store;
  /** Whether `secret` is the console's admin password or token. */
  checkAdmin: (secret: string) => boolean | Promise<boolean>;
  /**
   * Cookies get Secure on TLS connections anyway; set this when TLS ends in front of the
   * console (a reverse proxy), so that the cookie is never sent in the clear.
   */
  secureCookies?: boolean;
  now?: () => number;
  webRoot?: string;
  session?: Partial<SessionOptions>;
}

/** ok: a live session (on a state-changing request: with a valid CSRF token, same origin). */
export type UiAuth = 'ok' | 'forbidden' | null;

export interface ConsoleUi {
  /** Serves /ui/... and /api/ui/... (and / for browsers); false for every other path. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** null: the request has no live session (try other credentials, else 401); forbidden: 403. */
  authorize(req: RequestHead): UiAuth;
  /** The core API's auth: a live session (with its CSRF checks) or what `token` accepts. */
  sessionOrToken(token: ApiAuth): ApiAuth;
}

type RequestHead = { headers: IncomingHttpHeaders; method?: string | undefined };

/** Failed logins per client address allowed in a minute before the form answers 429. */
const LOGIN_FAILURES_PER_MIN = 5;
const FAIL_DELAY_MS = 400;

/** TLS to us, or to a reverse proxy in front that says so (a false claim only makes the cookie stricter). */
function isTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

export function createConsoleUi(deps: ConsoleUiDeps): ConsoleUi {
  const secure = (req: IncomingMessage): boolean => deps.secureCookies === true || isTls(req);
  const now = deps.now ?? Date.now;
  const sessions = new SessionStore({ ...DEFAULT_SESSION_OPTIONS, now, ...deps.session });
  const assets = new StaticAssets(deps.webRoot ?? defaultWebRoot());
  const failures = new Map<string, number[]>();
  const sparkCache = new Map<string, { at: number; values: Array<number | null> }>();

  const sessionOf = (req: RequestHead): Session | null => {
    const id = cookieValue(req, SESSION_COOKIE);
    return id ? sessions.get(id) : null;
  };

  const authorize = (req: RequestHead): UiAuth => {
    const s = sessionOf(req);
    if (!s) return null;
    if (!isStateChanging(req)) return 'ok';
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !sameSecret(token, s.csrf) || isCrossOrigin(req)) return 'forbidden';
    return 'ok';
  };

  const bearerOk = async (req: IncomingMessage): Promise<boolean> => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return m !== null && (await deps.checkAdmin(m[1]!));
  };

  const html = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...securityHeaders(), 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', ...extra });
    res.end(body);
  };

  const redirect = (res: ServerResponse, to: string, extra: Record<string, string> = {}): void => {
    res.writeHead(303, { location: to, 'cache-control': 'no-store', ...extra });
    res.end();
  };

  const login = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (isCrossOrigin(req)) return html(res, 403, loginPage('This login came from another site.'));
    const client = req.socket.remoteAddress ?? '?';
    const t = now();
    const recent = (failures.get(client) ?? []).filter((at) => t - at < 60_000);
    if (recent.length >= LOGIN_FAILURES_PER_MIN) {
      return html(res, 429, loginPage('Too many failed logins: wait a minute.'), { 'retry-after': '60' });
    }
    // Counted before anything is awaited, so that guesses sent in parallel meet the cap too;
    // a success clears the count.
    recent.push(t);
    failures.set(client, recent);
    const secret = new URLSearchParams(await readBody(req, 8192)).get('secret') ?? '';
    if (secret !== '' && (await deps.checkAdmin(secret))) {
      failures.delete(client);
      const { id } = sessions.create();
      return redirect(res, '/ui/', { 'set-cookie': sessionCookie(id, { secure: secure(req), maxAgeS: sessions.maxAgeS }) });
    }
    // Many addresses guessing once each must not grow the map without bound.
    if (failures.size > 10_000) for (const [k, v] of failures) if (t - v.at(-1)! >= 60_000) failures.delete(k);
    // A slow answer to a wrong secret; the per-minute cap above is the real limit.
    await new Promise((r) => setTimeout(r, FAIL_DELAY_MS));
    html(res, 401, loginPage('Wrong password or token.'));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    try {
      // A browser opening the console's address lands on the UI; API clients keep their 401.
      if (path === '/' && read && /\btext\/html\b/.test(String(req.headers.accept ?? ''))) {
        redirect(res, '/ui/');
        return true;
      }
      if (path.startsWith('/api/ui/')) {
        const auth = authorize(req);
        if (auth === 'forbidden') throw new HttpError(403, 'missing or wrong CSRF token, or a request from another site');
        if (auth === null && !(await bearerOk(req))) {
          res.setHeader('www-authenticate', 'Bearer realm="fleetprobe-console"');
          throw new HttpError(401, 'log in, or send Authorization: Bearer <admin token>');
        }
        return await handleUiApi({ store: deps.store, now, sparkCache }, req, res, url);
      }
      if (path !== '/ui' && !path.startsWith('/ui/')) return false;
      if (assets.problem !== null) throw new HttpError(503, `${assets.problem}; the API under /api/ works`);
      if (path === '/ui/login') {
        if (method === 'POST') await login(req, res);
        else if (read && sessionOf(req)) redirect(res, '/ui/');
        else if (read) html(res, 200, loginPage(null));
        else throw new HttpError(405, 'use GET or POST');
        return true;
      }
      if (path === '/ui/logout' && method === 'POST') {
        const id = cookieValue(req, SESSION_COOKIE);
        // Cross-site logout would be harmless, but it is a state change like any other.
        if (authorize(req) === 'forbidden') throw new HttpError(403, 'missing or wrong CSRF token');
        if (id) sessions.destroy(id);
        redirect(res, '/ui/login', { 'set-cookie': clearedCookie({ secure: secure(req) }) });
        return true;
      }
      if (!read) throw new HttpError(405, 'use GET');
      const session = sessionOf(req);
      if (path === '/ui/session') {
        if (!session) throw new HttpError(401, 'not logged in');
        sendJson(res, 200, { csrf: session.csrf, expiresAt: session.createdAt + sessions.maxAgeS * 1000 });
        return true;
      }
      if (path === '/ui' || path === '/ui/') {
        // The app's page itself is never shown without a session; its scripts hold no data.
        if (!session) redirect(res, '/ui/login');
        else assets.send('index.html', req, res, { 'cache-control': 'no-store' });
        return true;
      }
      const name = path.slice('/ui/'.length);
      if (name.endsWith('.html') || !assets.send(name, req, res)) throw new HttpError(404, `not found: ${path}`);
      return true;
    } catch (err) {
      if (err instanceof HttpError) {
        if (!res.headersSent) sendJson(res, err.status, { error: err.message });
        return true;
      }
      throw err;
    }
  };

  return { handle, authorize, sessionOrToken: (token) => ({ check: (req) => authorize(req) === 'ok' || token.check(req) }) };
}
