// The console as a privileged client of a real Mosquitto over TLS (mqtts), with a CA made at
// test time: with that CA as external_broker.ca_file it stores a device's telemetry and
// delivers a command; with another CA, or no ca_file (the system's CAs), it refuses the
// broker's certificate, says so in one line, and never connects without verification.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { Mosquitto } from '../helpers/mosquitto.js';
import { createTestCa, type TestCa } from '../helpers/tls-fixtures.js';
import { deviceClient, result, startTestConsole, telemetry, waitUntil, type TestConsole } from './helpers.js';
import type { ConsoleInfo, StreamsBody } from '../../console/api/types.js';
import type { CommandView } from '../../console/fleet/commands.js';

const CONSOLE_PASSWORD = 'console-password-for-tls-tests';
const DEVICE_PASSWORD = 'device-password-for-tls-tests';
let ca: TestCa;
let otherCa: TestCa;
let m: Mosquitto;
const consoles: TestConsole[] = [];
const clients: MqttClient[] = [];

before(async () => {
  ca = await createTestCa('fp-console-broker-ca');
  otherCa = await createTestCa('fp-some-other-ca');
  m = await Mosquitto.start({ users: { 'fleetprobe-console': CONSOLE_PASSWORD, 'pi-tls': DEVICE_PASSWORD }, tls: { ca } });
});

after(async () => {
  await Promise.all(clients.map((x) => x.endAsync(true).catch(() => undefined)));
  for (const c of consoles) await c.remove();
  await m?.remove();
  await ca?.remove();
  await otherCa?.remove();
});

const consoleOver = async (clientId: string, caFile: string | undefined): Promise<TestConsole> => {
  const c = await startTestConsole({
    external_broker: { url: m.tlsUrl, password: CONSOLE_PASSWORD, client_id: clientId, ...(caFile === undefined ? {} : { ca_file: caFile }) },
  });
  consoles.push(c);
  return c;
};

const connected = async (c: TestConsole): Promise<boolean> => (await c.api<ConsoleInfo>('GET', '/api/console')).body.broker.connected;

test('over mqtts with the CA in ca_file: telemetry stored, a command delivered and its reply kept', { timeout: 30_000 }, async () => {
  const c = await consoleOver('fp-console-tls', ca.caCert);
  await waitUntil('the console connected over TLS', 10_000, () => connected(c));
  assert.deepEqual((await c.api<ConsoleInfo>('GET', '/api/console')).body.broker.endpoints, [m.tlsUrl]);
  assert.match(m.log(), /New client connected .* as fp-console-tls/, 'Mosquitto saw the console on its TLS listener');
  assert.equal((await c.api('POST', '/api/devices', { id: 'pi-tls', password: DEVICE_PASSWORD })).status, 201);

  // The device also over TLS, trusting the same CA.
  const dev = await deviceClient(m.tlsUrl, { clientId: 'pi-tls', username: 'pi-tls', password: DEVICE_PASSWORD, ca: readFileSync(ca.caCert) });
  clients.push(dev);
  const commands: Array<{ topic: string; body: { id: string; command: string } }> = [];
  dev.on('message', (topic, payload) => commands.push({ topic, body: JSON.parse(payload.toString()) as { id: string; command: string } }));
  await dev.subscribeAsync({ '/devices/pi-tls/commands/#': { qos: 1 } });

  const t0 = Date.now() - 10_000;
  await dev.publishAsync('/devices/pi-tls/events', telemetry('pi-tls', 'tls-stream', [1, 2, 3].map((seq) => ({ seq, r: result('lo', t0 + seq, [0.3]) }))), { qos: 1 });
  const st = await waitUntil('3 results stored', 10_000, async () =>
    (await c.api<StreamsBody>('GET', '/api/devices/pi-tls/streams')).body.streams.find((x: { stream: string; results: number }) => x.stream === 'tls-stream' && x.results === 3));
  assert.equal(st.results, 3);

  const cmd = await c.api<CommandView>('POST', '/api/devices/pi-tls/commands', { command: 'probe-now' });
  assert.equal(cmd.status, 202, JSON.stringify(cmd.body));
  const got = await waitUntil('the command reached the device', 10_000, async () => commands.find((x) => x.body.id === cmd.body.id));
  assert.equal(got.body.command, 'probe-now');
  await dev.publishAsync('/devices/pi-tls/events/replies', JSON.stringify({ id: cmd.body.id, status: 'ok', result: { probed: 1 } }), { qos: 1 });
  const done = await c.api<CommandView>('GET', `/api/devices/pi-tls/commands/${cmd.body.id}?wait=5`);
  assert.equal(done.body.status, 'ok');
  assert.deepEqual(done.body.reply?.result, { probed: 1 });
});

/** The console keeps running and retrying, never connected; one warning line per attempt naming the cause. */
async function assertRefused(c: TestConsole, clientId: string, against: RegExp): Promise<void> {
  const line = await waitUntil('the refusal logged', 10_000, async () => c.logger.lines.find((l) => l.includes('TLS: refusing')));
  assert.match(line, /^warn: bus: TLS: refusing the broker's certificate \((self-signed certificate in certificate chain|unable to get local issuer certificate)\)/);
  assert.match(line, against);
  assert.match(line, /set external_broker\.ca_file to the CA that signed it; reconnecting to mqtts:\/\/127\.0\.0\.1:\d+ in \d+ ms$/);
  assert.ok(!line.includes('\n'), 'one line');
  for (const l of c.logger.lines) assert.ok(!/\n\s+at /.test(l), `no stack trace: ${l}`);
  // Still refusing after more attempts: no fallback to an unverified connection.
  await new Promise((r) => setTimeout(r, 2500));
  assert.equal(await connected(c), false);
  assert.ok(c.logger.lines.filter((l) => l.includes('TLS: refusing')).length >= 2, c.logger.lines.join('\n'));
  assert.ok(!c.logger.lines.some((l) => l.includes('bus: connected')), c.logger.lines.join('\n'));
  assert.doesNotMatch(m.log(), new RegExp(`as ${clientId}\\b`), 'Mosquitto never had the console connected');
  const reg = await c.api('POST', '/api/devices', { id: `${clientId}-dev`, password: DEVICE_PASSWORD });
  assert.equal(reg.status, 201, 'the API still works while the broker is unreachable');
}

test('with another CA in ca_file the console refuses the broker, says so in one line, and keeps refusing', { timeout: 30_000 }, async () => {
  const c = await consoleOver('fp-console-wrong-ca', otherCa.caCert);
  await assertRefused(c, 'fp-console-wrong-ca', new RegExp(`checked against the CA in ${otherCa.caCert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};`));
});

test('without ca_file (the system CAs) the console refuses the test CA\'s broker the same way', { timeout: 30_000 }, async () => {
  const c = await consoleOver('fp-console-no-ca', undefined);
  await assertRefused(c, 'fp-console-no-ca', /checked against the system's CAs \(no external_broker\.ca_file set\);/);
});

test('an unreadable ca_file is reported in one line, and nothing is connected', { timeout: 30_000 }, async () => {
  const c = await consoleOver('fp-console-missing-ca', '/nonexistent/fleetprobe-ca.crt');
  const line = await waitUntil('the error logged', 10_000, async () => c.logger.lines.find((l) => l.includes('ca_file')));
  assert.match(line, /^warn: bus: cannot read ca_file \/nonexistent\/fleetprobe-ca\.crt: ENOENT/);
  assert.equal(await connected(c), false);
  assert.doesNotMatch(m.log(), /as fp-console-missing-ca\b/);
});
