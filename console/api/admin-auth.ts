import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

// The admin credential: a random token, stored as its SHA-256 (a 192-bit random token needs
// no slow hash). Issue 8's login trades it for a session cookie; the API also takes it as
// `Authorization: Bearer <token>`, which is what the CLI and scripts send.

export const ADMIN_TOKEN_META = 'admin_token_sha256';

export function generateToken(): string {
  return `fpc_${randomBytes(24).toString('base64url')}`;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Who may use the API. The web UI (issue 8) adds a session cookie (with a CSRF check for
 * unsafe methods) by implementing this next to the bearer token; routes do not change.
 */
export interface ApiAuth {
  check(req: { headers: IncomingHttpHeaders; method: string }): boolean;
}

export class AdminAuth implements ApiAuth {
  private readonly expected: Buffer;

  constructor(hashHex: string) {
    this.expected = Buffer.from(hashHex, 'hex');
  }

  /** Whether the request's Authorization header carries the admin token. */
  check(req: { headers: IncomingHttpHeaders }): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const got = Buffer.from(tokenHash(m[1]!), 'hex');
    return got.length === this.expected.length && timingSafeEqual(got, this.expected);
  }
}
