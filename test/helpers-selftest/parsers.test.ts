import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildIcmp6EchoReply,
  buildIpv4EchoReply,
  internetChecksum,
  parseIpv4EchoRequest,
} from '../helpers/icmp-packet.js';
import { lossScript, rejectScript } from '../helpers/nft-rules.js';
import { parseFpingOutput, parsePingOutput } from '../helpers/ping-parse.js';

const PING_OUTPUT = `PING fd66:7072:6f62:100::2(fd66:7072:6f62:100::2) 56 data bytes
64 bytes from fd66:7072:6f62:100::2: icmp_seq=1 ttl=64 time=20.1 ms
64 bytes from fd66:7072:6f62:100::2: icmp_seq=1 ttl=64 time=20.2 ms (DUP!)
From fd66:7072:6f62:100::2 icmp_seq=2 Destination unreachable: No route
64 bytes from fd66:7072:6f62:100::2: icmp_seq=4 ttl=64 time=0.049 ms

--- fd66:7072:6f62:100::2 ping statistics ---
4 packets transmitted, 2 received, +1 duplicates, +1 errors, 50% packet loss, time 3004ms
rtt min/avg/max/mdev = 0.049/13.4/20.2/9.4 ms
`;

test('parsePingOutput reads per-seq RTTs, duplicates, ICMP errors and the summary', () => {
  const p = parsePingOutput(PING_OUTPUT, 4);
  assert.deepEqual(p.rtts, [20.1, null, null, 0.049]);
  assert.deepEqual(p.dupRtts, [{ seq: 1, rttMs: 20.2 }]);
  assert.deepEqual(p.icmpErrors, [{ seq: 2, from: 'fd66:7072:6f62:100::2', message: 'Destination unreachable: No route' }]);
  assert.equal(p.transmitted, 4);
  assert.equal(p.received, 2);
  assert.equal(p.duplicates, 1);
  assert.equal(p.errors, 1);
  assert.equal(p.lossPct, 50);
  assert.deepEqual(p.summary, { minMs: 0.049, avgMs: 13.4, maxMs: 20.2, mdevMs: 9.4 });
});

test('parseFpingOutput reads -q -C lines and duplicate notices', () => {
  const stderr = [
    '198.18.8.1 : duplicate for [0], 64 bytes, 5.59 ms',
    '198.18.8.1 : duplicate for [1], 64 bytes, 7.04 ms',
    '198.18.8.1  : 5.36 6.90 -',
    '198.18.8.2  : - - -',
    'fd66:7072:6f62:101::1 : 0.05 0.04 0.04',
  ].join('\n');
  const r = parseFpingOutput(stderr);
  assert.deepEqual(r.get('198.18.8.1'), { sent: 3, received: 2, rtts: [5.36, 6.9, null], duplicates: 2 });
  assert.deepEqual(r.get('198.18.8.2'), { sent: 3, received: 0, rtts: [null, null, null], duplicates: 0 });
  assert.equal(r.get('fd66:7072:6f62:101::1')?.received, 3);
});

function echoRequest(): Buffer {
  const icmp = Buffer.from([8, 0, 0, 0, 0x12, 0x34, 0x00, 0x07, 1, 2, 3, 4, 5]);
  icmp.writeUInt16BE(internetChecksum(icmp), 2);
  const ip = Buffer.from([0x46, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 8, 9, 1, 1, 1, 0]);
  ip.writeUInt16BE(ip.length + icmp.length, 2);
  return Buffer.concat([ip, icmp]);
}

test('an IPv4 echo request (with IP options) becomes a reply from the pinged address', () => {
  const req = parseIpv4EchoRequest(echoRequest());
  assert.ok(req);
  assert.equal(req.src, '198.18.0.1');
  assert.equal(req.dst, '198.18.8.9');
  const reply = buildIpv4EchoReply(req);
  assert.equal(reply[0], 0x45);
  assert.equal(reply[9], 1);
  assert.deepEqual([...reply.subarray(12, 20)], [198, 18, 8, 9, 198, 18, 0, 1]);
  const icmp = reply.subarray(20);
  assert.equal(icmp[0], 0);
  assert.deepEqual(icmp.subarray(4), req.icmp.subarray(4), 'id, seq and payload are echoed');
  assert.equal(internetChecksum(icmp), 0, 'a valid checksum sums to zero');
});

test('non-echo packets are ignored', () => {
  const reply = echoRequest();
  reply[24] = 0;
  assert.equal(parseIpv4EchoRequest(reply), null);
  assert.equal(buildIcmp6EchoReply(Buffer.from([135, 0, 0, 0, 0, 0, 0, 0])), null);
  const v6 = buildIcmp6EchoReply(Buffer.from([128, 0, 0xab, 0xcd, 0, 1, 0, 2, 9]));
  assert.deepEqual(v6 && [...v6], [129, 0, 0, 0, 0, 1, 0, 2, 9]);
});

test('nft scripts: loss uses a fine-grained random threshold, reject picks per-family codes', () => {
  assert.match(lossScript(12.5), /icmp type echo-reply numgen random mod 10000 < 1250 drop/);
  assert.match(lossScript(12.5), /icmpv6 type echo-reply numgen random mod 10000 < 1250 drop/);
  assert.doesNotMatch(lossScript(0), /add rule/);
  assert.match(lossScript(100), /icmp type echo-reply drop/);
  assert.throws(() => lossScript(101), RangeError);
  assert.match(rejectScript('198.18.1.0/24', 'net'), /ip daddr 198\.18\.1\.0\/24 reject with icmp type net-unreachable/);
  assert.match(rejectScript('fd66:7072:6f62:102::/64', 'net'), /reject with icmpv6 type no-route/);
  assert.match(rejectScript('198.18.1.0/24', 'admin'), /admin-prohibited/);
});
