import { pbkdf2, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

// Device passwords are stored only as hashes: scrypt for the embedded broker, and Mosquitto's
// own PBKDF2-SHA512 format for an external Mosquitto (which cannot verify scrypt). The
// plaintext is shown once, at registration.

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: ScryptOptions) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

export interface ScryptParams {
  /**
   * CPU/memory cost (a power of two). 2^12: about 12 ms and 4 MB per hash. 2^14 made 1,000
   * devices reconnecting after a console restart cost a minute of CPU and left 200 MB of RSS
   * behind; the authenticator also remembers a verified password until its hash changes.
   */
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 4096, r: 8, p: 1 };
/** Mosquitto's mosquitto_passwd uses 101 iterations; more costs each connect more. */
export const MOSQUITTO_ITERATIONS = 10_000;
const KEY_LEN = 32;

/** A fresh password: 144 random bits, URL- and shell-safe. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** `scrypt$N$r$p$salt$hash` (base64url), parameters kept so that they can change later. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, KEY_LEN, { ...params, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (!(N > 1 && r > 0 && p > 0) || expected.length === 0) return false;
  const got = await scryptAsync(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(got, expected);
}

/** Mosquitto 2's password_file format: `$7$iterations$salt$hash`, PBKDF2-HMAC-SHA512, base64. */
export async function mosquittoHash(password: string, iterations = MOSQUITTO_ITERATIONS): Promise<string> {
  const salt = randomBytes(12);
  const hash = await pbkdf2Async(password, salt, iterations, 64, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}
