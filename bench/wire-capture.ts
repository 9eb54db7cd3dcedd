import { type ChildProcess, spawn } from 'node:child_process';
import { run } from '../test/helpers/run.js';

/** Request and reply times (seconds, kernel capture clock) of one echo seen on the wire. */
export interface WireEcho {
  req: number;
  rep?: number;
}

/**
 * tcpdump on the root side of a test veth, nanosecond kernel timestamps: the reference both
 * fleetprobe and ping are held against, packet by packet. Echoes are keyed by ICMP id, then seq.
 */
export class WireCapture {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly file: string,
  ) {}

  static async start(iface: string, file: string): Promise<WireCapture> {
    const proc = spawn('tcpdump', ['-i', iface, '-w', file, '--time-stamp-precision=nano', '-U', '-B', '8192', 'icmp or icmp6'], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.stderr!.on('data', (d: Buffer) => /listening on/.test(d.toString()) && resolve());
    });
    return new WireCapture(proc, file);
  }

  async stop(): Promise<Map<number, Map<number, WireEcho>>> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGINT');
    await exited;
    const { stdout } = await run('tcpdump', ['-r', this.file, '-n', '-tt', '--time-stamp-precision=nano']);
    const byId = new Map<number, Map<number, WireEcho>>();
    for (const line of stdout.split('\n')) {
      const m = /^(\d+\.\d+) .*ICMP6?,? echo (request|reply), id (\d+), seq (\d+)/.exec(line);
      if (!m) continue;
      const id = Number(m[3]);
      const seq = Number(m[4]);
      let echoes = byId.get(id);
      if (!echoes) byId.set(id, (echoes = new Map()));
      const t = Number(m[1]);
      if (m[2] === 'request') echoes.set(seq, { req: t });
      else {
        const e = echoes.get(seq);
        if (e && e.rep === undefined) e.rep = t;
      }
    }
    return byId;
  }
}
