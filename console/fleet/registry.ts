import { z } from 'zod';
import { configSchema } from '../../agent/config/schema.js';
import { parsePublicKey } from '../auth/jwt-verify.js';
import { generatePassword, hashPassword, mosquittoHash } from '../auth/passwords.js';
import type { NewDevice, Store } from '../store/store.js';
import { csvRecords } from './csv.js';

// Registering devices: one, or many from a CSV (all or nothing). Passwords are hashed at
// once; a generated one is returned to the caller this one time and never stored in clear.

export class RegistrationError extends Error {
  override readonly name = 'RegistrationError';
}

// The agent's own rule for device ids (its config file's device.id).
const deviceIdSchema = configSchema.shape.device.unwrap().shape.id.unwrap();

export const registrationSchema = z.strictObject({
  id: deviceIdSchema,
  /** A password of the operator's choosing; without it and without keys one is generated. */
  password: z.string().min(12, 'at least 12 characters').max(256).optional(),
  /** PEM public keys (EC P-256 or RSA) for JWT login, at most 3 as IoT Core allowed. */
  public_keys: z.array(z.string().min(1).max(16_384)).max(3).optional(),
  /** Generate a password even though keys are given (both ways in). */
  generate_password: z.boolean().optional(),
});

export type Registration = z.infer<typeof registrationSchema>;

export interface Registered {
  id: string;
  /** Only when the console generated it: shown this once. */
  password?: string;
  public_keys: number;
}

export const CSV_COLUMNS = ['id', 'password', 'public_key'] as const;

export class Registry {
  constructor(
    private readonly store: Pick<Store, 'registerDevices' | 'setPassword' | 'credentials' | 'deleteDevice'>,
    private readonly now: () => number,
    private readonly changed: () => void,
  ) {}

  async register(input: readonly Registration[]): Promise<Registered[]> {
    const ids = new Set<string>();
    for (const r of input) {
      if (ids.has(r.id)) throw new RegistrationError(`device ${r.id} appears twice`);
      ids.add(r.id);
      for (const [i, pem] of (r.public_keys ?? []).entries()) {
        try {
          parsePublicKey(pem);
        } catch (err) {
          throw new RegistrationError(`device ${r.id}: public_keys[${i}]: ${(err as Error).message}`);
        }
      }
    }
    // Hashing is the slow part (scrypt, PBKDF2) and runs on libuv's thread pool: a few at once.
    const prepared: Array<{ row: NewDevice; out: Registered }> = [];
    for (let i = 0; i < input.length; i += 8) {
      prepared.push(...(await Promise.all(input.slice(i, i + 8).map((r) => this.prepare(r)))));
    }
    const rows = prepared.map((p) => p.row);
    const out = prepared.map((p) => p.out);
    await this.store.registerDevices(rows);
    this.changed();
    return out;
  }

  private async prepare(r: Registration): Promise<{ row: NewDevice; out: Registered }> {
    const keys = r.public_keys ?? [];
    const generated = r.password === undefined && (keys.length === 0 || r.generate_password === true) ? generatePassword() : undefined;
    const password = r.password ?? generated;
    const [passwordHash, mosqHash] = password === undefined ? [null, null] : await Promise.all([hashPassword(password), mosquittoHash(password)]);
    return {
      row: { id: r.id, passwordHash, mosquittoHash: mosqHash, publicKeys: keys, registeredAt: this.now() },
      out: { id: r.id, ...(generated === undefined ? {} : { password: generated }), public_keys: keys.length },
    };
  }

  /** CSV with a header: id, and optionally password and public_key (a PEM, quoted). */
  async registerCsv(text: string): Promise<Registered[]> {
    const records = csvRecords(text, CSV_COLUMNS);
    if (records.length === 0) throw new RegistrationError('the CSV has a header but no devices');
    const input = records.map((rec, i) => {
      const r = registrationSchema.safeParse({
        id: rec.id,
        ...(rec.password ? { password: rec.password } : {}),
        ...(rec.public_key ? { public_keys: [rec.public_key] } : {}),
      });
      if (!r.success) throw new RegistrationError(`row ${i + 2} (${rec.id || 'no id'}): ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
      return r.data;
    });
    return this.register(input);
  }

  /** Forgets the device and its data; the caller ends its connection and clears its retained config. */
  async remove(id: string): Promise<boolean> {
    const ok = await this.store.deleteDevice(id);
    if (ok) this.changed();
    return ok;
  }

  async exists(id: string): Promise<boolean> {
    return (await this.store.credentials(id)) !== null;
  }

  /** A new generated password (the old one stops working at the next connect). */
  async resetPassword(id: string, password = generatePassword()): Promise<string | null> {
    const ok = await this.store.setPassword(id, await hashPassword(password), await mosquittoHash(password));
    if (ok) this.changed();
    return ok ? password : null;
  }
}
