// A real Mosquitto for tests: its own config in a temp dir, listeners on free ports of
// 127.0.0.1 only, stoppable and restartable on the same ports (outages), and pausable with
// SIGSTOP (a broker that holds PUBACKs).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';
import { MqttSubscriber } from './mqtt-subscriber.js';
import type { TestCa } from './tls-fixtures.js';

export interface MosquittoOptions {
  /** Require these username/password pairs (password_file via mosquitto_passwd); default anonymous. */
  users?: Record<string, string>;
  /** Also open a TLS listener with certificates from this CA. */
  tls?: { ca: TestCa; requireClientCert?: boolean };
}

/** Credentials the helpers' own clients use when the broker requires a password. */
export interface Credentials {
  username?: string;
  password?: string;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error('mosquitto exited during startup');
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export class Mosquitto {
  private child: ChildProcess | null = null;
  private output: string[] = [];
  private readonly killOnExit = (): void => void this.child?.kill('SIGKILL');

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly tlsPort: number | null,
    /** For the helpers' clients (subscriber, control publisher). */
    readonly observer: Credentials,
  ) {}

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await mkdtemp(join(tmpdir(), 'fp-mosquitto-'));
    const port = await freePort();
    const tlsPort = opts.tls ? await freePort() : null;
    const lines = [
      'persistence false',
      'log_dest stderr',
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      'per_listener_settings false',
      // As root, mosquitto drops to user "mosquitto", which cannot read our 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
    ];
    let observer: Credentials = {};
    if (opts.users) {
      observer = { username: 'fp-observer', password: randomBytes(8).toString('hex') };
      const file = join(dir, 'passwd');
      await writeFile(file, '', { mode: 0o600 });
      for (const [user, pass] of Object.entries({ ...opts.users, [observer.username!]: observer.password! })) {
        await run('mosquitto_passwd', ['-b', file, user, pass]);
      }
      lines.push('allow_anonymous false', `password_file ${file}`);
    } else {
      lines.push('allow_anonymous true');
    }
    if (opts.tls && tlsPort !== null) {
      const { ca, requireClientCert } = opts.tls;
      lines.push(`listener ${tlsPort} 127.0.0.1`, `cafile ${ca.caCert}`, `certfile ${ca.server.cert}`, `keyfile ${ca.server.key}`);
      // With a client certificate the certificate's CN is the identity; no password then.
      if (requireClientCert) lines.push('require_certificate true', 'use_identity_as_username true');
    }
    await writeFile(join(dir, 'mosquitto.conf'), `${lines.join('\n')}\n`);
    const m = new Mosquitto(dir, port, tlsPort, observer);
    await m.launch();
    return m;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    if (this.tlsPort === null) throw new Error('no TLS listener');
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** A client on the plain listener collecting everything on `filters` (as the observer user when passwords are on). */
  subscriber(filters: readonly string[]): Promise<MqttSubscriber> {
    return MqttSubscriber.connect(this.url, filters, this.observer);
  }

  /** What mosquitto logged, for failure messages. */
  log(): string {
    return this.output.join('');
  }

  private async launch(): Promise<void> {
    const child = spawn('mosquitto', ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    process.on('exit', this.killOnExit);
    const collect = (b: Buffer): void => void this.output.push(b.toString());
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let exited = false;
    child.once('exit', () => (exited = true));
    try {
      await waitForPort(this.port, 10_000, () => !exited);
      if (this.tlsPort !== null) await waitForPort(this.tlsPort, 10_000, () => !exited);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.log()}`);
    }
  }

  /** Ends the broker (SIGTERM, or SIGKILL for a crash) and waits for it to exit. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    process.off('exit', this.killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT'); // a paused broker cannot act on SIGTERM
    child.kill(signal);
    await exited;
  }

  /** Starts it again on the same ports (clients see an outage, then a broker with no state). */
  async restart(downMs = 0): Promise<void> {
    await this.stop();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  /** Starts a stopped broker again on the same ports. */
  async relaunch(): Promise<void> {
    if (this.child) throw new Error('mosquitto is running');
    await this.launch();
  }

  /** Freezes the broker: connections stay open, nothing is answered (PUBACKs held). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
