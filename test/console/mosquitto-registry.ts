// A real Mosquitto whose password_file and acl_file are the ones the console writes from its
// registry (the shared helper's broker takes a user list instead); reloaded with SIGHUP as
// an operator would after a registration.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/mosquitto.js';

export class RegistryMosquitto {
  private child: ChildProcess | null = null;
  private out = '';

  private constructor(readonly dir: string, readonly port: number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get passwordFile(): string {
    return join(this.dir, 'passwd');
  }

  get aclFile(): string {
    return join(this.dir, 'acl');
  }

  /** Starts with the given files' content (the console rewrites them later). */
  static async start(passwd: string, acl: string): Promise<RegistryMosquitto> {
    const m = new RegistryMosquitto(mkdtempSync(join(tmpdir(), 'fp-console-mosq-')), await freePort());
    writeFileSync(m.passwordFile, passwd, { mode: 0o600 });
    writeFileSync(m.aclFile, acl);
    writeFileSync(join(m.dir, 'mosquitto.conf'), [
      'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${m.port} 127.0.0.1`, 'allow_anonymous false', `password_file ${m.passwordFile}`, `acl_file ${m.aclFile}`, '',
    ].join('\n'));
    const child = spawn('mosquitto', ['-c', join(m.dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    m.child = child;
    child.stderr!.on('data', (d: Buffer) => (m.out += d.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect(m.port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mosquitto did not start:\n${m.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return m;
  }

  /** Re-reads the password and ACL files (what `systemctl reload mosquitto` does). */
  async reload(): Promise<void> {
    const before = this.out.length;
    this.child?.kill('SIGHUP');
    const deadline = Date.now() + 5000;
    while (!/reloading/i.test(this.out.slice(before)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  log(): string {
    return this.out;
  }

  async remove(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
