import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { JWT_MAX_TTL_MS } from '../../agent/uplink/jwt.js';

// Device JWTs as Cloud IoT Core checked them: ES256 or RS256 signed by one of the device's
// registered keys, aud = the project, not expired, not issued in the future, at most 24 h.

/** Clocks of devices and console disagree a little; IoT Core allowed 10 minutes. */
export const CLOCK_SKEW_S = 600;

export class JwtRejected extends Error {
  override readonly name = 'JwtRejected';
}

export interface JwtClaimsSeen {
  iat: number;
  exp: number;
  aud: string;
}

/** Parses a registered public key and checks it is one the JWT algorithms can use. */
export function parsePublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new RangeError(`not a PEM public key (${(err as Error).message.split('\n')[0]})`);
  }
  const ec = key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (!ec && key.asymmetricKeyType !== 'rsa') throw new RangeError(`unsupported key type ${String(key.asymmetricKeyType)}: use an EC P-256 (ES256) or RSA (RS256) key`);
  return key;
}

function decodeJson(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwtRejected(`JWT ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtRejected(`JWT ${what} is not an object`);
  return value as Record<string, unknown>;
}

export function verifyDeviceJwt(token: string, pems: readonly string[], audience: string, nowMs: number): JwtClaimsSeen {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtRejected('password is not a JWT');
  const [h, b, s] = parts as [string, string, string];
  const alg = decodeJson(h, 'header').alg;
  if (alg !== 'ES256' && alg !== 'RS256') throw new JwtRejected(`unsupported JWT alg ${String(alg)}`);
  const data = Buffer.from(`${h}.${b}`);
  const sig = Buffer.from(s, 'base64url');
  const ok = pems.some((pem) => {
    let key: KeyObject;
    try {
      key = parsePublicKey(pem);
    } catch {
      return false;
    }
    const ec = key.asymmetricKeyType === 'ec';
    if (ec !== (alg === 'ES256')) return false;
    return ec ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig) : verify('sha256', data, key, sig);
  });
  if (!ok) throw new JwtRejected('JWT signature does not verify with any registered key');
  const { iat, exp, aud } = decodeJson(b, 'claims');
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof aud !== 'string') throw new JwtRejected('JWT lacks iat, exp or aud');
  const now = nowMs / 1000;
  if (aud !== audience) throw new JwtRejected(`JWT aud "${aud}" is not the project "${audience}"`);
  if (exp <= now) throw new JwtRejected('JWT expired');
  if (iat > now + CLOCK_SKEW_S) throw new JwtRejected('JWT issued in the future');
  if (exp - iat > JWT_MAX_TTL_MS / 1000 + CLOCK_SKEW_S) throw new JwtRejected('JWT lifetime exceeds 24 h');
  return { iat, exp, aud };
}
