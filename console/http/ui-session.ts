import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

type RequestHead = { headers: IncomingHttpHeaders; method?: string | undefined };

// Browser sessions of the web UI. The admin secret is typed once at the login form; the
// browser then holds only a random session id in an HttpOnly cookie, so that script on the
// page can never read a credential. Sessions live in memory: a console restart logs
// everyone out, which is the safe direction.

export const SESSION_COOKIE = 'fp_session';
export const CSRF_HEADER = 'x-csrf-token';

export interface Session {
  /** Sent with every state-changing request (header x-csrf-token); the page gets it from /ui/session. */
  csrf: string;
  createdAt: number;
  lastUsed: number;
}

export interface SessionOptions {
  /** A session ends this long after login, used or not. */
  maxAgeMs: number;
  /** ...or this long after its last request. */
  idleMs: number;
  now: () => number;
  /** At most this many sessions; the least recently used goes first. */
  maxSessions: number;
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  maxAgeMs: 12 * 3600_000,
  idleMs: 2 * 3600_000,
  now: Date.now,
  maxSessions: 1000,
};

export class SessionStore {
  // Keyed by a hash of the cookie value: the map never holds a usable cookie.
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly opts: SessionOptions = DEFAULT_SESSION_OPTIONS) {}

  create(): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url');
    const now = this.opts.now();
    const session: Session = { csrf: randomBytes(24).toString('base64url'), createdAt: now, lastUsed: now };
    if (this.sessions.size >= this.opts.maxSessions) this.evictOldest();
    this.sessions.set(hash(id), session);
    return { id, session };
  }

  /** The live session for this cookie value (its idle clock restarted), or null. */
  get(id: string): Session | null {
    const key = hash(id);
    const s = this.sessions.get(key);
    if (!s) return null;
    const now = this.opts.now();
    if (now - s.createdAt >= this.opts.maxAgeMs || now - s.lastUsed >= this.opts.idleMs) {
      this.sessions.delete(key);
      return null;
    }
    s.lastUsed = now;
    // Re-inserting keeps the map in least-recently-used order for eviction.
    this.sessions.delete(key);
    this.sessions.set(key, s);
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(hash(id));
  }

  get size(): number {
    return this.sessions.size;
  }

  get maxAgeS(): number {
    return Math.floor(this.opts.maxAgeMs / 1000);
  }

  private evictOldest(): void {
    const first = this.sessions.keys().next();
    if (!first.done) this.sessions.delete(first.value);
  }
}

function hash(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function cookieValue(req: RequestHead, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || null;
  }
  return null;
}

export function sessionCookie(id: string, opts: { secure: boolean; maxAgeS: number }): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${opts.maxAgeS}${opts.secure ? '; Secure' : ''}`;
}

export function clearedCookie(opts: { secure: boolean }): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${opts.secure ? '; Secure' : ''}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isStateChanging(req: RequestHead): boolean {
  return !SAFE_METHODS.has(req.method ?? 'GET');
}

/**
 * A request that came from a page of another site. SameSite=Strict already keeps the cookie
 * off such requests in current browsers; this is the second lock (older browsers, same-site
 * subdomains): Origin, or failing that Sec-Fetch-Site, must name this console.
 */
export function isCrossOrigin(req: RequestHead): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // Host only, either scheme: behind a TLS proxy the browser says https, the socket is plain.
    const host = req.headers.host;
    let from: string;
    try {
      from = new URL(origin).host;
    } catch {
      return true;
    }
    return host === undefined || (!origin.startsWith('http://') && !origin.startsWith('https://')) || from !== host;
  }
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}
