import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { probeResultSchema } from '../../agent/core/result.js';

const BIN = fileURLToPath(new URL('../../agent/bin/fleetprobe.js', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], prefix: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [cmd, ...pre] = prefix.length > 0 ? prefix : [process.execPath];
    const child = spawn(cmd!, [...pre, ...(prefix.length > 0 ? [process.execPath] : []), BIN, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function oneLine(r: Run, re: RegExp): void {
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line, got: ${r.stderr}`);
  assert.match(lines[0]!, re);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/); // no stack trace
}

test('--help and --version', async () => {
  const h = await cli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: fleetprobe <command>/);
  const ph = await cli(['probe', '--help']);
  assert.equal(ph.code, 0);
  assert.match(ph.stdout, /-c, --count N/);
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^fleetprobe \d+\.\d+\.\d+\n$/);
});

test('exit 0 when every target answered; ping-like summary per target', async () => {
  const r = await cli(['probe', '-c', '3', '-i', '0.05', '127.0.0.1', '::1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--- 127\.0\.0\.1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss\nrtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms/);
  assert.match(r.stdout, /--- ::1 ping statistics ---\n3 packets transmitted, 3 received, 0% packet loss/);
  assert.equal(r.stderr, '');
});

test('--json prints one valid record per target per round; exit 1 when a target cannot be resolved', async () => {
  const r = await cli(['probe', '--json', '-c', '2', '-i', '0.02', '-W', '0.5', '--rounds', '2', '--every', '0.3', '127.0.0.1', 'no-such-host.invalid']);
  assert.equal(r.code, 1, r.stderr);
  const records = r.stdout.trim().split('\n').map((l) => probeResultSchema.parse(JSON.parse(l)));
  assert.equal(records.length, 4);
  const ok = records.filter((x) => x.name === '127.0.0.1');
  assert.equal(ok.length, 2);
  for (const x of ok) {
    assert.equal(x.sent, 2);
    assert.equal(x.received, 2);
    assert.equal(x.rtts_ms.length, 2);
    assert.equal(x.ttl, 64);
  }
  assert.notEqual(ok[0]!.ts, ok[1]!.ts);
  const bad = records.filter((x) => x.name === 'no-such-host.invalid');
  assert.equal(bad.length, 2);
  assert.equal(bad[0]!.address, null);
  assert.equal(bad[0]!.sent, 0);
  assert.equal(bad[0]!.errors[0]!.kind, 'resolve');
  assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(String(bad[0]!.errors[0]!.code)), String(bad[0]!.errors[0]!.code));
});

test('usage errors exit 2 with one line and no stack trace', async () => {
  oneLine(await cli(['probe', '--bogus', '127.0.0.1']), /^fleetprobe: Unknown option '--bogus'$/);
  oneLine(await cli(['probe', '-c', '0', '127.0.0.1']), /^fleetprobe: -c\/--count: 0 is out of range/);
  oneLine(await cli(['probe', '-6', '127.0.0.1']), /not an IPv6 address/);
  oneLine(await cli(['probe', '1.2.3.999']), /not a valid IPv4 address/);
  oneLine(await cli(['frobnicate']), /unknown command 'frobnicate'/);
  for (const args of [['probe', '--bogus', '127.0.0.1'], ['probe', '-s', '1', '::1'], ['frobnicate'], ['probe']]) {
    assert.equal((await cli(args)).code, 2, args.join(' '));
  }
});

test('exit 77 with one line naming CAP_NET_RAW when the privilege is missing', async () => {
  const r = await cli(['probe', '127.0.0.1'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-net_raw']);
  assert.equal(r.code, 77, r.stderr);
  oneLine(r, /^fleetprobe: .*CAP_NET_RAW.*run as root or as the packaged service$/);
});
