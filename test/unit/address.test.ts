import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressBytes, addressKey, formatAddress } from '../../agent/probe/icmp/address.js';
import { targetProblem } from '../../agent/config/target.js';

test('IPv6 spellings of one address share a key; formatting is RFC 5952', () => {
  assert.equal(addressKey('::1'), addressKey('0:0:0:0:0:0:0:1'));
  assert.equal(addressKey('FD00::A'), addressKey('fd00:0::a'));
  assert.equal(addressKey('::ffff:1.2.3.4'), addressKey('::ffff:102:304'));
  assert.equal(formatAddress(addressBytes('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.equal(formatAddress(addressBytes('fd00:0:0:0:0:0:0:1')!), 'fd00::1');
  assert.equal(formatAddress(addressBytes('1:2:3:4:5:6:7:8')!), '1:2:3:4:5:6:7:8');
  assert.equal(formatAddress(addressBytes('198.18.0.1')!), '198.18.0.1');
  assert.equal(addressKey('example.com'), null);
});

test('targets: literals and hostnames pass, impossible ones are refused with a reason', () => {
  for (const ok of ['127.0.0.1', '::1', 'localhost', 'pi-01.lan', 'example.com.', 'fe80::1%eth0']) assert.equal(targetProblem(ok), null, ok);
  for (const bad of ['1.2.3.999', '10.0.0', '-bad.example', 'a..b', 'has space', 'gg::1', '', 'x'.repeat(254), 'ex_ample.com!']) {
    assert.match(targetProblem(bad) ?? 'NONE', /./, bad);
    assert.notEqual(targetProblem(bad), null, bad);
  }
});
