import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

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

export class AdminAuth {
  private readonly expected: Buffer;

  constructor(hashHex: string) {
    this.expected = Buffer.from(hashHex, 'hex');
  }

  /** Whether the request's Authorization header carries the admin token. */
  check(authorization: string | undefined): boolean {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return false;
    const got = Buffer.from(tokenHash(m[1]!), 'hex');
    return got.length === this.expected.length && timingSafeEqual(got, this.expected);
  }
}
