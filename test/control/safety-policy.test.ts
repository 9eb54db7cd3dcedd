import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, cidrProblem, ipv4Broadcast, parseCidr, parseIp } from '../../agent/control/cidr.js';
import { probePeriod, SafetyPolicy } from '../../agent/control/safety-policy.js';
import { configSchema, safetySchema } from '../../agent/config/schema.js';
import { fakeInterfaces, ops } from '../helpers/control-fakes.js';

const policy = (safety: Record<string, unknown> = {}): SafetyPolicy => new SafetyPolicy(safetySchema.parse(safety), fakeInterfaces);

test('CIDR parsing: IPv4, IPv6 (compressed, embedded IPv4), bare addresses, bad input', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { family: 4, base: 0x0a000000n, prefix: 8, text: '10.0.0.0/8' });
  assert.equal(parseCidr('192.0.2.7')?.prefix, 32);
  assert.equal(parseCidr('fd00::/8')?.base, 0xfdn << 120n);
  assert.equal(parseCidr('::1')?.base, 1n);
  assert.equal(parseCidr('::ffff:1.2.3.4/128')?.base, (0xffffn << 32n) | 0x01020304n);
  assert.equal(cidrProblem('10.0.0.1/8'), '10.0.0.1/8: host bits set (did you mean 10.0.0.0/8?)');
  assert.equal(cidrProblem('10.0.0.0/33'), '10.0.0.0/33: prefix length must be 0..32');
  assert.equal(cidrProblem('fe80::/129'), 'fe80::/129: prefix length must be 0..128');
  assert.equal(cidrProblem('example.com/24'), 'example.com/24: not an IP address or CIDR range');
  assert.equal(cidrProblem('0.0.0.0/0'), null);
  assert.equal(cidrProblem('::/0'), null);
});

test('addresses: IPv4-mapped IPv6 counts as the IPv4 address, zones are ignored, families never mix', () => {
  assert.deepEqual(parseIp('::ffff:127.0.0.1'), { family: 4, value: 0x7f000001n });
  assert.deepEqual(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
  assert.equal(parseIp('1.2.3'), null);
  assert.ok(cidrContains(parseCidr('127.0.0.0/8')!, parseIp('::ffff:127.9.9.9')!));
  assert.ok(!cidrContains(parseCidr('::/0')!, parseIp('1.2.3.4')!));
  assert.ok(cidrContains(parseCidr('0.0.0.0/0')!, parseIp('1.2.3.4')!));
  assert.equal(ipv4Broadcast('192.168.7.23', '255.255.255.0'), 0xc0a807ffn);
  assert.equal(ipv4Broadcast('10.0.0.1', '255.255.255.254'), null);
});

test('fixed rules: multicast, broadcast (limited and directed) and unspecified are always refused', () => {
  const p = policy({ allow_cidrs: ['0.0.0.0/0', '::/0'] });
  assert.equal(p.refusal('224.0.0.1'), '224.0.0.1 is a multicast address');
  assert.equal(p.refusal('239.255.255.250'), '239.255.255.250 is a multicast address');
  assert.equal(p.refusal('ff02::1'), 'ff02::1 is a multicast address');
  assert.equal(p.refusal('255.255.255.255'), '255.255.255.255 is the broadcast address');
  assert.equal(p.refusal('192.168.7.255'), '192.168.7.255 is the broadcast address of eth0');
  assert.equal(p.refusal('0.0.0.0'), '0.0.0.0 is an unspecified address');
  assert.equal(p.refusal('::'), ':: is an unspecified address');
  assert.equal(p.refusal('::ffff:224.0.0.1'), '::ffff:224.0.0.1 is a multicast address');
  assert.equal(p.refusal('192.0.2.1'), null);
});

test('loopback and own addresses: refused unless the local allow_cidrs names them', () => {
  const strict = policy();
  assert.match(strict.refusal('127.0.0.1')!, /loopback address \(allow it with safety\.allow_cidrs\)/);
  assert.match(strict.refusal('127.3.2.1')!, /loopback/);
  assert.match(strict.refusal('::1')!, /loopback/);
  assert.match(strict.refusal('::ffff:127.0.0.1')!, /loopback/);
  assert.equal(strict.refusal('192.168.7.23'), '192.168.7.23 is an address of this device (eth0; allow it with safety.allow_cidrs)');
  assert.match(strict.refusal('fd00:7::23')!, /address of this device \(eth0/);
  assert.equal(strict.refusal('192.168.7.24'), null);
  const allowing = policy({ allow_cidrs: ['127.0.0.0/8', '::1/128', '192.168.7.0/24'] });
  assert.equal(allowing.refusal('127.0.0.1'), null);
  assert.equal(allowing.refusal('::1'), null);
  assert.equal(allowing.refusal('192.168.7.23'), null);
  assert.equal(allowing.refusal('10.0.0.1'), '10.0.0.1 is outside allow_cidrs');
  assert.equal(allowing.refusal('not-an-ip'), 'not-an-ip is not an IP address');
});

test('deny_cidrs wins over allow_cidrs', () => {
  const p = policy({ allow_cidrs: ['10.0.0.0/8'], deny_cidrs: ['10.1.0.0/16'] });
  assert.equal(p.refusal('10.2.0.1'), null);
  assert.equal(p.refusal('10.1.0.1'), '10.1.0.1 is inside deny_cidrs 10.1.0.0/16');
});

test('own addresses are looked up again after a while (DHCP), not on every check', () => {
  let now = 0;
  let calls = 0;
  let addr = '192.168.7.23';
  const p = new SafetyPolicy(safetySchema.parse({}), () => {
    calls++;
    return { eth0: [{ address: addr, netmask: '255.255.255.0', family: 'IPv4', mac: '', internal: false, cidr: null }] };
  }, () => now);
  assert.match(p.refusal('192.168.7.23')!, /this device/);
  addr = '192.168.7.99';
  assert.match(p.refusal('192.168.7.23')!, /this device/);
  assert.equal(calls, 1);
  now = 6000;
  assert.equal(p.refusal('192.168.7.23'), null);
  assert.match(p.refusal('192.168.7.99')!, /this device/);
  assert.equal(calls, 2);
});

test('config caps: probes, per-probe and total packet rate, period, size; all violations with their paths', () => {
  const p = policy({ allow_cidrs: ['192.0.2.0/24'] });
  assert.deepEqual(p.check(ops({ probes: [{ name: 'a', ip_address: '192.0.2.1', count: 4 }] })), []);
  const bad = p.check(ops({
    agent_operations: { probe_interval: 1 },
    probes: [
      { name: 'fast', ip_address: '192.0.2.1', count: 5, interval_ms: 10 },
      { name: 'big', ip_address: '192.0.2.2', size: 9000 },
      { name: 'out', ip_address: '198.51.100.1' },
      { name: 'host', ip_address: 'gateway.example' },
      { name: 'busy', ip_address: '192.0.2.3', count: 50 },
    ],
  }));
  assert.deepEqual(bad, [
    { path: 'probes[0].interval_ms', reason: '100 packets/s within a round exceed max_pps 50' },
    { path: 'probes[1].size', reason: '9000 bytes exceed max_size 1472' },
    { path: 'probes[2].ip_address', reason: '198.51.100.1 is outside allow_cidrs' },
    { path: 'probes', reason: '67 packets/s in total (count / period, summed) exceed max_pps 50' },
  ]);
  const many = Array.from({ length: 3 }, (_, i) => ({ name: `p${i}`, ip_address: '192.0.2.1', probe_interval: 600 }));
  assert.deepEqual(policy({ allow_cidrs: ['192.0.2.0/24'], max_probes: 2 }).check(ops({ probes: many })), [{ path: 'probes', reason: '3 probes exceed max_probes 2' }]);
  const slow = policy({ allow_cidrs: ['192.0.2.0/24'], min_probe_interval_s: 30 });
  assert.deepEqual(slow.check(ops({ agent_operations: { probe_interval: 10 }, probes: [{ name: 'a', ip_address: '192.0.2.1' }, { name: 'b', ip_address: '192.0.2.1', probe_interval: 5 }] })), [
    { path: 'agent_operations.probe_interval', reason: 'rounds every 10 s: below min_probe_interval_s 30' },
    { path: 'probes[1].probe_interval', reason: 'rounds every 5 s: below min_probe_interval_s 30' },
  ]);
  // Exactly at the cap is allowed.
  assert.deepEqual(policy({ allow_cidrs: ['192.0.2.0/24'] }).check(ops({ probes: [{ name: 'a', ip_address: '192.0.2.1', count: 50, interval_ms: 20 }] })), []);
});

test('cron probes: the rate uses the shortest gap the schedule can have, worked out quickly', () => {
  const probe = (cron: string) => configSchema.parse({ probes: [{ name: 'c', ip_address: '192.0.2.1', cron }] }).probes[0]!;
  const period = (cron: string): number => probePeriod(probe(cron), 60).seconds;
  assert.equal(period('*/5 * * * * *'), 5);
  assert.equal(period('0,1 * * * * *'), 1);
  assert.equal(period('58 * * * * *'), 60);
  assert.equal(period('0,59 * * * * *'), 1, 'from :59 to :00 of the next minute');
  assert.equal(period('0,59 0 * * * *'), 59, 'the next minute is an hour away');
  assert.equal(period('0 */2 * * *'), 7200);
  assert.equal(period('0,30 */2 * * *'), 1800);
  assert.equal(period('0 0 * * *'), 86_400);
  assert.equal(period('0 23,1 * * *'), 7200, 'across midnight');
  assert.equal(period('*/10 8-17 * * 1-5'), 600);
  const started = performance.now();
  const many = Array.from({ length: 200 }, (_, i) => ({ name: `c${i}`, ip_address: '192.0.2.1', cron: `0 ${i % 60} */2 * * *` }));
  policy({ allow_cidrs: ['192.0.2.0/24'] }).check(ops({ probes: many }));
  assert.ok(performance.now() - started < 500, `checking 200 cron probes took ${performance.now() - started} ms`);
  const p = policy({ allow_cidrs: ['192.0.2.0/24'], min_probe_interval_s: 2 });
  assert.deepEqual(p.check(ops({ probes: [{ name: 'c', ip_address: '192.0.2.1', cron: '* * * * * *' }] })), [
    { path: 'probes[0].cron', reason: 'rounds every 1 s: below min_probe_interval_s 2' },
  ]);
});

test('the guard refuses per resolution and reports each refusal', () => {
  const heard: string[] = [];
  const guard = policy({ allow_cidrs: ['192.0.2.0/24'] }).guard((m) => heard.push(m));
  assert.equal(guard('192.0.2.9', 4), null);
  assert.equal(guard('127.0.0.1', 4), '127.0.0.1 is outside allow_cidrs');
  assert.deepEqual(heard, ['127.0.0.1 is outside allow_cidrs']);
});

test('the safety section: defaults, and bad CIDRs are refused when the file is read', () => {
  assert.deepEqual(safetySchema.parse({}), { max_pps: 50, max_probes: 200, min_probe_interval_s: 1, max_size: 1472, max_commands_per_minute: 10, restart_min_uptime_s: 180 });
  const r = configSchema.safeParse({ safety: { allow_cidrs: ['10.0.0.1/8'], max_pps: 0 } });
  assert.equal(r.success, false);
  assert.deepEqual(r.error!.issues.map((i) => i.path.join('.')).sort(), ['safety.allow_cidrs.0', 'safety.max_pps']);
  assert.equal(configSchema.parse({}).state_interval, 60);
});
