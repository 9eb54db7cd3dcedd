import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../agent/cli/errors.js';
import { parseProbeArgs } from '../../agent/cli/probe-args.js';

function usage(args: string[]): string {
  try {
    parseProbeArgs(args);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected UsageError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/);
    return err.message;
  }
  assert.fail(`accepted: ${args.join(' ')}`);
}

test('defaults follow ping: 4 packets, 1 s apart, 56 bytes, 1 s timeout, one round', () => {
  const o = parseProbeArgs(['127.0.0.1']);
  assert.notEqual(o, 'help');
  if (o === 'help') return;
  assert.deepEqual(o.specs, [{ name: '127.0.0.1', target: '127.0.0.1', family: null, count: 4, size: 56, interval_ms: 1000, timeout_ms: 1000 }]);
  assert.equal(o.rounds, 1);
  assert.equal(o.json, false);
});

test('options map to the probe spec in ms; -4/-6 force the family', () => {
  const o = parseProbeArgs(['-c', '10', '-i', '0.002', '-s', '16', '-W', '0.5', '-6', '--rounds', '3', '--every', '2', '--json', 'localhost', '::1']);
  if (o === 'help') return assert.fail('help');
  assert.equal(o.specs.length, 2);
  assert.deepEqual(o.specs[1], { name: '::1', target: '::1', family: 6, count: 10, size: 16, interval_ms: 2, timeout_ms: 500 });
  assert.equal(o.rounds, 3);
  assert.equal(o.every_s, 2);
  assert.equal(o.json, true);
  assert.equal(parseProbeArgs(['--help']), 'help');
});

test('usage errors are one clear line each', () => {
  assert.match(usage(['--bogus', '1.2.3.4']), /Unknown option '--bogus'/);
  assert.match(usage(['-c', '0', '127.0.0.1']), /-c\/--count: 0 is out of range \(1\.\.100000\)/);
  assert.match(usage(['-c', '100001', '127.0.0.1']), /out of range/);
  assert.match(usage(['-c', '1.5', '127.0.0.1']), /-c\/--count/);
  assert.match(usage(['-i', '0.001', '127.0.0.1']), /-i\/--interval: 0\.001 is out of range \(0\.002\.\.3600 seconds\)/);
  assert.match(usage(['-s', '15', '127.0.0.1']), /-s\/--size: 15 is out of range \(16\.\.65507 bytes\)/);
  assert.match(usage(['-s', '65508', '127.0.0.1']), /out of range/);
  assert.match(usage(['-W', 'x', '127.0.0.1']), /'x' is not a non-negative number/);
  assert.match(usage(['-6', '127.0.0.1']), /127\.0\.0\.1 is not an IPv6 address/);
  assert.match(usage(['-4', '::1']), /::1 is not an IPv4 address/);
  assert.match(usage(['-4', '-6', '::1']), /mutually exclusive/);
  assert.match(usage(['300.1.1.1']), /not a valid IPv4 address/);
  assert.match(usage(['bad host']), /not an IP address or a valid hostname/);
  assert.match(usage([]), /no target/);
  assert.match(usage(['--rounds', '0', '127.0.0.1']), /--rounds/);
  assert.match(usage(['-c']), /argument missing/);
});
