import { createHash, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';
import { JwtRejected, verifyDeviceJwt } from './jwt-verify.js';
import { verifyPassword } from './passwords.js';

/** The registry path IoT Core client ids name: projects/{p}/locations/{r}/registries/{g}/devices/{d}. */
export interface IotCoreIdentity {
  project: string;
  region: string;
  registry: string;
}

/** MQTT 3.1.1 CONNACK codes: 2 identifier rejected, 4 bad user name or password, 5 not authorized. */
export type RefusalCode = 2 | 4 | 5;

export type AuthOutcome =
  | { ok: true; device: string; method: 'password' | 'jwt'; /** JWT exp (ms): the connection ends then. */ expiresAt: number | null }
  | { ok: false; code: RefusalCode; reason: string };

export interface DeviceAuthDeps {
  store: Pick<Store, 'credentials'>;
  iotCore: IotCoreIdentity;
  now: () => number;
}

const IOT_CLIENT_ID = /^projects\/([^/]+)\/locations\/([^/]+)\/registries\/([^/]+)\/devices\/([^/]+)$/;

/**
 * Decides who a connecting client is. Two ways in:
 * - IoT Core style: the client id names the device, the password is a JWT signed by one of
 *   its registered keys (the user name is ignored, as IoT Core did).
 * - Password: user name = client id = device id, and the device's password. Binding the
 *   client id to the device keeps one device from taking over another's session (a second
 *   connection with the same client id disconnects the first).
 */
export class DeviceAuthenticator {
  /** Device -> the stored hash a password was verified against, and that password's SHA-256. */
  private readonly verified = new Map<string, { stored: string; digest: Buffer }>();

  constructor(private readonly deps: DeviceAuthDeps) {}

  clientIdFor(device: string): string {
    const { project, region, registry } = this.deps.iotCore;
    return `projects/${project}/locations/${region}/registries/${registry}/devices/${device}`;
  }

  async authenticate(clientId: string, username: string | undefined, password: Buffer | undefined): Promise<AuthOutcome> {
    const m = IOT_CLIENT_ID.exec(clientId);
    if (m) return this.jwt(m, password);
    if (username === undefined || password === undefined) return { ok: false, code: 4, reason: 'user name and password required' };
    if (username !== clientId) return { ok: false, code: 2, reason: `client id "${clientId}" must equal the user name "${username}"` };
    const cred = await this.deps.store.credentials(username);
    // Same answer for an unknown device and a wrong password: ids are not to be probed.
    if (!cred || cred.passwordHash === null || !(await this.passwordOk(cred.id, password, cred.passwordHash))) {
      return { ok: false, code: 4, reason: cred ? 'wrong password' : `unknown device ${username}` };
    }
    return { ok: true, device: cred.id, method: 'password', expiresAt: null };
  }

  /** scrypt once per device and password: reconnects (a console restart: the whole fleet) cost a SHA-256. */
  private async passwordOk(device: string, password: Buffer, stored: string): Promise<boolean> {
    const digest = createHash('sha256').update(password).digest();
    const seen = this.verified.get(device);
    if (seen && seen.stored === stored && timingSafeEqual(seen.digest, digest)) return true;
    const ok = await verifyPassword(password.toString('utf8'), stored);
    if (ok) this.verified.set(device, { stored, digest });
    return ok;
  }

  private async jwt(m: RegExpExecArray, password: Buffer | undefined): Promise<AuthOutcome> {
    const { project, region, registry } = this.deps.iotCore;
    if (m[1] !== project || m[2] !== region || m[3] !== registry) {
      return { ok: false, code: 2, reason: `client id names registry ${m[1]}/${m[2]}/${m[3]}, not ${project}/${region}/${registry}` };
    }
    const device = m[4]!;
    const cred = await this.deps.store.credentials(device);
    if (!cred || cred.publicKeys.length === 0) return { ok: false, code: 5, reason: cred ? `device ${device} has no registered key` : `unknown device ${device}` };
    try {
      const claims = verifyDeviceJwt(password?.toString('utf8') ?? '', cred.publicKeys, project, this.deps.now());
      return { ok: true, device, method: 'jwt', expiresAt: claims.exp * 1000 };
    } catch (err) {
      if (err instanceof JwtRejected) return { ok: false, code: 4, reason: err.message };
      throw err;
    }
  }
}
