import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyFileExistsError } from './errors.js';

export interface DeviceKeys {
  privateKeyPath: string;
  publicKeyPath: string;
  publicKeyPem: string;
}

export const PRIVATE_KEY_FILE = 'ec_private.pem';
export const PUBLIC_KEY_FILE = 'ec_public.pem';

/**
 * Makes the device's ES256 (P-256) key pair: the private key as PKCS#8 PEM readable by its
 * owner only, the public key as SPKI PEM (what the registry takes). Existing keys are never
 * replaced: the device may already be registered with them.
 */
export function generateDeviceKeys(dir: string): DeviceKeys {
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  for (const path of [privateKeyPath, publicKeyPath]) if (existsSync(path)) throw new KeyFileExistsError(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  // 'wx' closes the race with another writer; the mode applies at creation, before any byte.
  writeExclusive(privateKeyPath, privateKey, 0o600);
  writeExclusive(publicKeyPath, publicKey, 0o644);
  return { privateKeyPath, publicKeyPath, publicKeyPem: publicKey };
}

function writeExclusive(path: string, data: string, mode: number): void {
  try {
    writeFileSync(path, data, { flag: 'wx', mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileExistsError(path);
    throw err;
  }
}
