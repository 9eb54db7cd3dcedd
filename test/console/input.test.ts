// Bad input from devices, operators and files: each gets one clear reason and changes nothing.
// (Pure functions and the CLI entry point in-process; no broker needed.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../../console/cli/main.js';
import { CsvError, csvRecords, parseCsv } from '../../console/fleet/csv.js';
import { toIngestItem } from '../../console/fleet/inbound.js';
import { consoleTopics } from '../../console/topics.js';
import { freePort } from '../helpers/mosquitto.js';
import { result } from './helpers.js';

const topics = consoleTopics('');
const dir = mkdtempSync(join(tmpdir(), 'fp-console-input-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('CSV: quoted fields with commas, quotes and line breaks (a PEM), CRLF, a BOM; broken CSV refused', () => {
  const pem = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----';
  assert.deepEqual(parseCsv(`\ufeffid,public_key\r\n"pi-1","${pem}"\r\npi-2,"a ""quoted"", field"\r\n\r\n`), [['id', 'public_key'], ['pi-1', pem], ['pi-2', 'a "quoted", field']]);
  assert.deepEqual(csvRecords('ID, Password\npi-1 , secret-secret-1\n', ['id', 'password']), [{ id: 'pi-1', password: 'secret-secret-1' }]);
  assert.throws(() => parseCsv('id\n"pi-1\n'), (e: Error) => e instanceof CsvError && /unterminated/.test(e.message));
  assert.throws(() => parseCsv('id\npi"1"\n'), /quote inside an unquoted field/);
  assert.throws(() => csvRecords('id,password\npi-1\n', ['id', 'password']), /row 2: 1 field\(s\), the header has 2/);
  assert.throws(() => csvRecords('', ['id']), /empty CSV/);
});

test('device messages that do not fit become rejections with a reason, never stored', () => {
  const at = Date.now();
  const bad: Array<[string, string | Buffer, RegExp]> = [
    ['/devices/pi/events', Buffer.from([0xff, 0xfe, 0x7b]), /not valid UTF-8/],
    ['/devices/pi/events', '{"schema":1,', /invalid JSON/],
    ['/devices/pi/events', `${'['.repeat(40)}${']'.repeat(40)}`, /nested deeper/],
    ['/devices/pi/events', '{"schema":2,"device":"pi","stream":"s","results":[]}', /schema/],
    ['/devices/pi/events', JSON.stringify({ schema: 1, device: 'pi', stream: 's', results: [{ ...result('x', at, [1]), seq: -1 }] }), /results\[0\]\.seq/],
    ['/devices/pi/events', JSON.stringify({ schema: 1, device: 'pi', stream: 's', results: [{ ...result('x', at, [1]), seq: 1, extra: true }] }), /results\[0\]/],
    ['/devices/pi/events', '{"__proto__":{"x":1},"schema":1}', /forbidden key/],
    ['/devices/pi/events/replies', '{"id":"x","status":"maybe"}', /status/],
    ['/devices/pi/state', '{"device":"pi"}', /state: /],
    ['/devices/pi/status', 'sleeping', /expected "online" or "offline"/],
  ];
  for (const [topic, payload, reason] of bad) {
    const item = toIngestItem(topics, topic, Buffer.from(payload), at);
    assert.equal(item?.kind, 'rejected', `${topic} ${String(payload).slice(0, 40)}`);
    assert.match((item as { reason: string }).reason, reason);
    assert.ok(!(item as { reason: string }).reason.includes('\n'), 'one line');
  }
  // Ignored, not rejected: a cleared retained status, other event subfolders, foreign topics.
  assert.equal(toIngestItem(topics, '/devices/pi/status', Buffer.alloc(0), at), null);
  assert.equal(toIngestItem(topics, '/devices/pi/events/custom', Buffer.from('x'), at), null);
  assert.equal(toIngestItem(topics, '/other/pi/events', Buffer.from('x'), at), null);
  const ok = toIngestItem(topics, '/devices/pi/events', Buffer.from(JSON.stringify({ schema: 1, device: 'pi', stream: 's', results: [{ seq: 3, ...result('x', at, [1]) }] })), at);
  assert.equal(ok?.kind, 'telemetry');
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stderr = { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream;
  const code = await main(args, { stdout: { write: (s: string) => void (out += s) }, stderr, env: { FLEETPROBE_CONSOLE_STATE_DIR: dir } });
  return { code, out, err };
}

test('CLI: bad flags, a bad console config and missing credentials are one line each with the right status', async () => {
  const closedPort = await freePort();
  const cases: Array<[string[], number, RegExp]> = [
    [['serve', '--http-port', 'eighty'], 2, /^fleetprobe-console: --http-port: expected a port 0\.\.65535, got "eighty"\n$/],
    [['serve', '--nope'], 2, /^fleetprobe-console: Unknown option '--nope'\n$/],
    [['frobnicate'], 2, /^fleetprobe-console: unknown command "frobnicate"/],
    [['devices', 'add'], 1, /no admin token/],
    [['--token', 't', '--url', `http://127.0.0.1:${closedPort}`, 'devices', 'list'], 1, /^fleetprobe-console: cannot reach the console at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED\n$/],
    [['--token', 't', 'devices', 'add'], 2, /^fleetprobe-console: expected a device id\n$/],
    [['--token', 't', 'command', 'pi', 'stop', '--wait', 'soon'], 2, /--wait: expected seconds/],
  ];
  const file = join(dir, 'console.json');
  writeFileSync(file, '{ "http": { "port": 8080, "colour": "blue" } }');
  cases.push([['serve', '--config', file], 78, /^fleetprobe-console: .*console\.json: http\.colour: unknown key\n$/]);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{ "http": ');
  cases.push([['serve', '--config', broken], 78, /^fleetprobe-console: .*broken\.json: invalid JSON/]);
  cases.push([['serve', '--config', join(dir, 'missing.json')], 78, /cannot read .*missing\.json: ENOENT\n$/]);
  for (const [args, code, re] of cases) {
    const r = await run(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, re, args.join(' '));
    assert.equal(r.err.split('\n').length, 2, `one line: ${r.err}`);
  }
});
