import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';

/** A step of the update that failed for a reason the operator should read: one line. */
export class UpdateError extends Error {
  override readonly name = 'UpdateError';
}

const KEY_MAX_BYTES = 4096;

/** The pinned Ed25519 public key (PEM, SubjectPublicKeyInfo: what `openssl pkey -pubout` writes). */
export function loadPinnedKey(path: string): KeyObject {
  let pem: Buffer;
  try {
    if (statSync(path).size > KEY_MAX_BYTES) throw new UpdateError(`public key ${path} is larger than ${KEY_MAX_BYTES} bytes`);
    pem = readFileSync(path);
  } catch (err) {
    if (err instanceof UpdateError) throw err;
    throw new UpdateError(`cannot read the pinned public key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new UpdateError(`${path} is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UpdateError(`${path} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Ed25519 over the whole .deb (what `openssl pkeyutl -sign -rawin` makes): the file is read
 * into memory, which the download cap bounds.
 */
export function signatureValid(path: string, signatureB64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (sig.length !== 64) return false;
  return verify(null, readFileSync(path), key, sig);
}
