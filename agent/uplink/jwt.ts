import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UplinkConfigError } from './errors.js';

export type JwtAlgorithm = 'ES256' | 'RS256';

/** IoT Core rejects tokens valid for longer than a day. */
export const JWT_MAX_TTL_MS = 24 * 3600_000;

/** Reads a PEM private key and checks it fits the algorithm, so a mismatch fails at start, not at every connect. */
export function loadPrivateKey(path: string, algorithm: JwtAlgorithm): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(path));
  } catch (err) {
    throw new UplinkConfigError(`cannot read private key ${path}: ${(err as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  if (algorithm === 'ES256' && !(type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
    throw new UplinkConfigError(`${path} is not a P-256 EC key, which ES256 needs (got ${describeKey(key)})`);
  }
  if (algorithm === 'RS256' && type !== 'rsa') {
    throw new UplinkConfigError(`${path} is not an RSA key, which RS256 needs (got ${describeKey(key)})`);
  }
  return key;
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType} ${curve}` : String(key.asymmetricKeyType);
}

export interface JwtClaims {
  iat: number;
  exp: number;
  aud: string;
}

/** A device JWT as IoT Core wants it: iat, exp and aud (the project id), seconds since the epoch. */
export function mintJwt(opts: { key: KeyObject; algorithm: JwtAlgorithm; audience: string; now: Date; ttlMs: number }): { token: string; claims: JwtClaims } {
  const iat = Math.floor(opts.now.getTime() / 1000);
  const ttlS = Math.max(1, Math.floor(Math.min(opts.ttlMs, JWT_MAX_TTL_MS) / 1000));
  const claims: JwtClaims = { iat, exp: iat + ttlS, aud: opts.audience };
  const head = b64url(JSON.stringify({ alg: opts.algorithm, typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const input = Buffer.from(`${head}.${body}`);
  // JWS wants the raw r||s form for ECDSA; node's default is DER, which verifiers reject.
  const signature = opts.algorithm === 'ES256'
    ? sign('sha256', input, { key: opts.key, dsaEncoding: 'ieee-p1363' })
    : sign('sha256', input, opts.key);
  return { token: `${head}.${body}.${signature.toString('base64url')}`, claims };
}

function b64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
