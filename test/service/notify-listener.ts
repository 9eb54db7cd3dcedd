// A stand-in for systemd's notification socket: an AF_UNIX datagram socket bound by a small
// python3 program (Node cannot bind one), printing every datagram as a JSON line with its
// arrival time (CLOCK_MONOTONIC, the clock of process.hrtime) and the sender's pid from
// SCM_CREDENTIALS, which is what systemd checks for NotifyAccess=main.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const LISTENER = String.raw`
import json, socket, struct, sys, time
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + path[1:] if path.startswith("@") else path)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
    t = time.monotonic()
    pid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", cdata[:12])[0]
    print(json.dumps({"t": t, "pid": pid, "text": data.decode("utf-8", "replace")}), flush=True)
`;

export interface Datagram {
  /** Arrival, in seconds of CLOCK_MONOTONIC (compare with monotonicS()). */
  t: number;
  pid: number | null;
  text: string;
  /** The datagram's KEY=value assignments. */
  fields: Record<string, string>;
}

/** Now, in seconds of CLOCK_MONOTONIC (the listener's clock). */
export function monotonicS(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

export class NotifyListener {
  readonly messages: Datagram[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly socket: string,
    private readonly child: ChildProcess,
    private readonly dir: string | null,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const raw = JSON.parse(line) as { t?: number; pid?: number | null; text?: string };
      if (raw.text === undefined || raw.t === undefined) return;
      const fields: Record<string, string> = {};
      for (const a of raw.text.split('\n')) {
        const eq = a.indexOf('=');
        if (eq > 0) fields[a.slice(0, eq)] = a.slice(eq + 1);
      }
      this.messages.push({ t: raw.t, pid: raw.pid ?? null, text: raw.text, fields });
      for (const w of this.waiters) w();
    });
  }

  /** Binds a socket in a temp dir, or in the abstract namespace ('@...'). */
  static async start(kind: 'path' | 'abstract' = 'path'): Promise<NotifyListener> {
    const dir = kind === 'path' ? mkdtempSync(join(tmpdir(), 'fp-notify-')) : null;
    const socket = dir !== null ? join(dir, 'notify') : `@fleetprobe-test-${randomBytes(6).toString('hex')}`;
    const child = spawn('python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listener = new NotifyListener(socket, child, dir);
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`notify listener exited (${code})`)));
      child.stdout!.once('data', () => resolve());
    });
    return listener;
  }

  /** Datagrams carrying KEY (optionally with that value). */
  with(key: string, value?: string): Datagram[] {
    return this.messages.filter((m) => key in m.fields && (value === undefined || m.fields[key] === value));
  }

  async waitFor(pred: (m: Datagram) => boolean, timeoutMs = 15_000, what = 'a datagram'): Promise<Datagram> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got:\n${this.messages.map((m) => JSON.stringify(m.text)).join('\n')}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 250));
        this.waiters.add(done);
      });
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
  }
}
