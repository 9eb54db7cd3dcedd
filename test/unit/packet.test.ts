import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildEcho, checksum, ICMP4, ICMP6, parseIcmp4, parseIcmp6 } from '../../agent/probe/icmp/packet.js';

const cookie = Buffer.from('0123456789abcdef', 'hex');

function ipv4Header(src: number[], dst: number[], ttl: number, payloadLen: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payloadLen, 2);
  h[8] = ttl;
  h[9] = 1;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(checksum(h), 10);
  return h;
}

function asReply(req: Buffer): Buffer {
  const rep = Buffer.from(req);
  rep[0] = ICMP4.ECHO_REPLY;
  rep.writeUInt16BE(0, 2);
  rep.writeUInt16BE(checksum(rep), 2);
  return rep;
}

test('checksum matches RFC 1071 worked example and verifies to zero', () => {
  const data = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(checksum(data), ~0xddf2 & 0xffff);
  const withSum = Buffer.concat([data, Buffer.alloc(2)]);
  withSum.writeUInt16BE(checksum(data), 8);
  assert.equal(checksum(withSum), 0);
  assert.equal(checksum(Buffer.from([0xab])), ~0xab00 & 0xffff);
});

test('echo request layout: type, id, seq, cookie, serial, size, valid checksum', () => {
  const pkt = buildEcho(4, 0x1234, 7, cookie, 42, 56);
  assert.equal(pkt.length, 64);
  assert.equal(pkt[0], ICMP4.ECHO_REQUEST);
  assert.equal(pkt.readUInt16BE(4), 0x1234);
  assert.equal(pkt.readUInt16BE(6), 7);
  assert.deepEqual(pkt.subarray(8, 16), cookie);
  assert.equal(pkt.readDoubleBE(16), 42);
  assert.equal(checksum(pkt), 0);
  const v6 = buildEcho(6, 1, 2, cookie, 3, 16);
  assert.equal(v6[0], ICMP6.ECHO_REQUEST);
  assert.equal(v6.length, 24);
});

test('IPv4 reply: header stripped, TTL read, echo fields recovered', () => {
  const req = buildEcho(4, 99, 5, cookie, 1, 32);
  const rep = asReply(req);
  const parsed = parseIcmp4(Buffer.concat([ipv4Header([127, 0, 0, 1], [127, 0, 0, 1], 61, rep.length), rep]));
  assert.equal(parsed.kind, 'reply');
  if (parsed.kind !== 'reply') return;
  assert.equal(parsed.ttl, 61);
  assert.equal(parsed.echo.id, 99);
  assert.equal(parsed.echo.seq, 5);
  assert.deepEqual(parsed.echo.payload.subarray(0, 8), cookie);
});

test('IPv4: a corrupted reply fails the checksum; requests and other types are ignored', () => {
  const rep = asReply(buildEcho(4, 1, 1, cookie, 1, 16));
  rep[20] = rep[20]! ^ 0xff;
  const bad = parseIcmp4(Buffer.concat([ipv4Header([1, 1, 1, 1], [2, 2, 2, 2], 64, rep.length), rep]));
  assert.deepEqual(bad, { kind: 'ignore', reason: 'checksum' });
  const req = buildEcho(4, 1, 1, cookie, 1, 16);
  assert.deepEqual(parseIcmp4(Buffer.concat([ipv4Header([1, 1, 1, 1], [2, 2, 2, 2], 64, req.length), req])), { kind: 'ignore', reason: 'type' });
  assert.deepEqual(parseIcmp4(Buffer.alloc(10)), { kind: 'ignore', reason: 'short' });
});

test('IPv4 destination unreachable: quoted target and echo recovered, reporter is separate', () => {
  const req = buildEcho(4, 77, 9, cookie, 5, 56);
  const quoted = Buffer.concat([ipv4Header([198, 18, 0, 2], [198, 18, 9, 9], 63, req.length), req.subarray(0, 8)]);
  const icmp = Buffer.concat([Buffer.from([ICMP4.DEST_UNREACH, 0, 0, 0, 0, 0, 0, 0]), quoted]);
  icmp.writeUInt16BE(checksum(icmp), 2);
  const parsed = parseIcmp4(Buffer.concat([ipv4Header([198, 18, 0, 1], [198, 18, 0, 2], 64, icmp.length), icmp]));
  assert.equal(parsed.kind, 'error');
  if (parsed.kind !== 'error') return;
  assert.equal(parsed.type, 3);
  assert.equal(parsed.code, 0);
  assert.equal(parsed.target, '198.18.9.9');
  assert.equal(parsed.echo.id, 77);
  assert.equal(parsed.echo.seq, 9);
  assert.equal(parsed.echo.payload.length, 0);
});

test('IPv6 reply and time-exceeded quote', () => {
  const rep = Buffer.from(buildEcho(6, 5, 6, cookie, 7, 16));
  rep[0] = ICMP6.ECHO_REPLY;
  const r = parseIcmp6(rep);
  assert.equal(r.kind, 'reply');
  if (r.kind === 'reply') assert.equal(r.ttl, null);
  const ip6 = Buffer.alloc(40);
  ip6[6] = 58;
  Buffer.from('fd000000000000000000000000000001', 'hex').copy(ip6, 24);
  const err = Buffer.concat([Buffer.from([ICMP6.TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0]), ip6, buildEcho(6, 5, 6, cookie, 7, 16)]);
  const e = parseIcmp6(err);
  assert.equal(e.kind, 'error');
  if (e.kind === 'error') {
    assert.equal(e.target, 'fd00::1');
    assert.equal(e.echo.seq, 6);
  }
  assert.deepEqual(parseIcmp6(Buffer.from([ICMP6.ECHO_REQUEST, 0, 0, 0, 0, 0, 0, 0])), { kind: 'ignore', reason: 'type' });
});
