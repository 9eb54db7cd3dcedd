import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PrivilegeError } from '../../core/probe.js';
import type { EchoJob, EchoOutcome, EngineCounters, FromEngine, ToEngine } from './engine-protocol.js';

type Pending = { resolve: (o: EchoOutcome) => void; reject: (e: Error) => void };

/**
 * The agent's side of the engine child process: starts it on first use (and again after
 * a crash), hands it jobs and routes the outcomes back to their callers.
 */
export class EngineClient {
  private child: ChildProcess | null = null;
  private starting: Promise<ChildProcess> | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly counterWaiters: ((c: EngineCounters) => void)[] = [];
  private nextId = 1;
  /** The ICMP identifier the engine uses (known once started). */
  identifier: number | null = null;

  constructor(private readonly entry: URL = new URL('./engine-child.js', import.meta.url)) {}

  /** Starts the child; rejects with PrivilegeError when raw sockets are not allowed. */
  start(): Promise<ChildProcess> {
    if (this.child) return Promise.resolve(this.child);
    this.starting ??= new Promise<ChildProcess>((resolve, reject) => {
      const child = fork(fileURLToPath(this.entry), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], serialization: 'json' });
      let ready = false;
      child.on('message', (msg: FromEngine) => {
        if (msg.t === 'ready') {
          ready = true;
          this.identifier = msg.identifier;
          this.child = child;
          resolve(child);
        } else if (msg.t === 'fatal') {
          const err = msg.privilege ? new PrivilegeError(msg.message) : new Error(`probe engine: ${msg.message}`);
          if (!ready) reject(err);
          this.failAll(err);
        } else if (msg.t === 'outcome') {
          const p = this.pending.get(msg.outcome.id);
          this.pending.delete(msg.outcome.id);
          p?.resolve(msg.outcome);
        } else if (msg.t === 'counters') {
          this.counterWaiters.shift()?.(msg.counters);
        }
      });
      child.on('error', (err) => {
        if (!ready) reject(err);
      });
      child.on('exit', (code, signal) => {
        if (!ready) reject(new Error(`probe engine exited during start (${signal ?? code})`));
        if (this.child === child) this.child = null;
        this.starting = null;
        this.failAll(new Error(`probe engine exited (${signal ?? code})`));
      });
    });
    const starting = this.starting;
    starting.catch(() => {
      if (this.starting === starting) this.starting = null;
    });
    return starting;
  }

  async run(jobs: readonly Omit<EchoJob, 'id'>[]): Promise<EchoOutcome[]> {
    const child = await this.start();
    const withIds = jobs.map((j) => ({ ...j, id: this.nextId++ }));
    const results = withIds.map((j) => new Promise<EchoOutcome>((resolve, reject) => this.pending.set(j.id, { resolve, reject })));
    this.post(child, { t: 'jobs', jobs: withIds });
    return Promise.all(results);
  }

  /** What the engine saw and did not match (foreign ICMP, strays, bad checksums). */
  async counters(): Promise<EngineCounters> {
    const child = await this.start();
    const got = new Promise<EngineCounters>((resolve) => this.counterWaiters.push(resolve));
    this.post(child, { t: 'counters' });
    return got;
  }

  /** Asks the engine to end all jobs in flight now (their outcomes still arrive). */
  flush(): void {
    if (this.child) this.post(this.child, { t: 'flush' });
  }

  async close(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.post(child, { t: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  private post(child: ChildProcess, msg: ToEngine): void {
    child.send(msg);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
