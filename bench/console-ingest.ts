// Console ingest benchmark (issue 7): N simulated agents (default 1,000), each its own MQTT
// connection with its own password, publish a telemetry batch of 10 results every 5 s (random
// phase) to the console's embedded broker for --seconds; then every agent publishes
// back-to-back (one in flight each) for --burst seconds, for the ceiling. The console runs as
// its own process (`fleetprobe-console serve`, SQLite synchronous=full) so its RSS and CPU are
// its own. Reports results/s stored, PUBACK latency (the console acknowledges after commit),
// console RSS and CPU, and checks that every published result was stored exactly once.
//
//   node dist/bench/console-ingest.js [--agents 1000] [--seconds 60] [--burst 20]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import type { ConsoleInfo } from '../console/api/types.js';
import { freePort } from '../test/helpers/mosquitto.js';
import { result, telemetry } from '../test/console/helpers.js';
import { fmt, percentile } from './stats.js';

const { values: args } = parseArgs({ options: { agents: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '60' }, burst: { type: 'string', default: '20' } } });
const N = Number(args.agents);
const SECONDS = Number(args.seconds);
const BURST = Number(args.burst);
const TOKEN = 'bench-admin-token-0123456789';

const dir = mkdtempSync(join(tmpdir(), 'fp-bench-console-'));
const [httpPort, mqttPort] = [await freePort(), await freePort()];
writeFileSync(join(dir, 'console.json'), JSON.stringify({ admin_token: TOKEN, log_level: 'warn' }));
const bin = new URL('../console/bin/fleetprobe-console.js', import.meta.url).pathname;
const child = spawn(process.execPath, [bin, 'serve', '--config', join(dir, 'console.json'), '--state-dir', join(dir, 'state'), '--http-port', String(httpPort), '--mqtt-port', String(mqttPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('is running') && resolve()));
const api = async <T,>(method: string, path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return (await res.json()) as T;
};

function sample(): { rssMb: number; cpuS: number } {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { rssMb: rss, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 };
}

const ids = Array.from({ length: N }, (_, i) => `sim-${String(i).padStart(5, '0')}`);
const password = (id: string): string => `password-of-${id}`;
let t = Date.now();
for (let i = 0; i < N; i += 250) await api('POST', '/api/devices', { devices: ids.slice(i, i + 250).map((id) => ({ id, password: password(id) })) });
console.log(`registered ${N} devices in ${((Date.now() - t) / 1000).toFixed(1)} s`);
const idle = sample();

t = Date.now();
const clients: MqttClient[] = [];
for (let i = 0; i < N; i += 20) {
  clients.push(...(await Promise.all(ids.slice(i, i + 20).map((id) => connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: id, username: id, password: password(id), reconnectPeriod: 0, keepalive: 120 })))));
}
console.log(`connected ${N} agents in ${((Date.now() - t) / 1000).toFixed(1)} s`);
const connected = sample();

const seqs = new Map<string, number>();
const batch = (id: string): Buffer => {
  const s = seqs.get(id) ?? 0;
  seqs.set(id, s + 10);
  const now = Date.now();
  return telemetry(id, 'bench', Array.from({ length: 10 }, (_, k) => ({ seq: s + k + 1, r: result(`target-${k}`, now, [1.1 + k / 10, 1.2, 1.3, null, 1.25]) })));
};
let published = 0;

async function phase(seconds: number, periodMs: number | null): Promise<{ latencies: number[]; results: number; rss: number[]; cpuS: number; wallS: number }> {
  const latencies: number[] = [];
  const rss: number[] = [];
  const before = sample();
  const start = Date.now();
  const end = start + seconds * 1000;
  const sampler = setInterval(() => rss.push(sample().rssMb), 1000);
  let results = 0;
  await Promise.all(clients.map(async (c, i) => {
    const id = ids[i]!;
    let next = start + (periodMs === null ? 0 : Math.random() * periodMs);
    while (next < end) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t0 = performance.now();
      await c.publishAsync(`/devices/${id}/events`, batch(id), { qos: 1 });
      latencies.push(performance.now() - t0);
      results += 10;
      next = periodMs === null ? Date.now() : next + periodMs;
    }
  }));
  clearInterval(sampler);
  const after = sample();
  published += results;
  return { latencies, results, rss, cpuS: after.cpuS - before.cpuS, wallS: (Date.now() - start) / 1000 };
}

const steady = await phase(SECONDS, 5000);
const burst = await phase(BURST, null);
const stats = await api<ConsoleInfo>('GET', '/api/console');
const row = (name: string, p: Awaited<ReturnType<typeof phase>>): string =>
  `| ${name} | ${(p.results / p.wallS).toFixed(0)} | ${fmt(percentile(p.latencies, 50), 1)} / ${fmt(percentile(p.latencies, 99), 1)} | ${fmt(Math.max(...p.rss), 0)} | ${fmt((p.cpuS / p.wallS) * 100, 0)} % |`;
console.log(`\nconsole RSS idle ${idle.rssMb.toFixed(0)} MB, with ${N} connections ${connected.rssMb.toFixed(0)} MB`);
console.log('| phase | results/s stored | PUBACK latency ms, median / p99 | console RSS max MB | console CPU (of one core) |');
console.log('|---|---|---|---|---|');
console.log(row(`${N} agents, 10 results every 5 s, ${SECONDS} s`, steady));
console.log(row(`${N} agents back-to-back, ${BURST} s`, burst));
console.log(`\npublished ${published} results; console stored ${stats.ingest.stored}, duplicates ${stats.ingest.duplicates}, rejected ${stats.ingest.rejected}`);
if (stats.ingest.stored !== published || stats.ingest.duplicates !== 0) console.log('MISMATCH: not every result was stored exactly once');
await Promise.all(clients.map((c) => c.endAsync(true)));
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dir, { recursive: true, force: true });
