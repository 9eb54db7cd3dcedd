import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeParseJson } from '../../agent/control/safe-json.js';

const limits = { maxBytes: 1024, maxDepth: 4 };

function reason(payload: string | Buffer): string {
  const r = safeParseJson(payload, limits);
  assert.equal(r.ok, false, `accepted ${String(payload).slice(0, 40)}`);
  return r.ok ? '' : r.reason;
}

test('well-formed JSON within the limits parses', () => {
  assert.deepEqual(safeParseJson('{"a":[1,{"b":"[[[[[["}]}', limits), { ok: true, value: { a: [1, { b: '[[[[[[' }] } });
  assert.deepEqual(safeParseJson(Buffer.from('"\\"[[[[[\\\\"'), limits), { ok: true, value: '"[[[[[\\' });
  assert.deepEqual(safeParseJson(Buffer.from('\ufeff[1]'), limits), { ok: true, value: [1] }, 'a BOM is dropped');
});

test('size is checked before anything else', () => {
  assert.equal(reason('x'.repeat(1025)), 'message of 1025 bytes exceeds the 1024-byte limit');
  assert.equal(reason(Buffer.from('é'.repeat(513))), 'message of 1026 bytes exceeds the 1024-byte limit');
  assert.equal(safeParseJson(`"${'x'.repeat(1022)}"`, limits).ok, true);
  // The default is 64 KB.
  assert.match(reason(Buffer.alloc(64 * 1024 + 1, 0x20)), /65537 bytes/);
  assert.equal(safeParseJson(Buffer.alloc(64 * 1024 + 1, 0x20)).ok, false);
});

test('depth is checked before parsing; brackets inside strings do not count', () => {
  assert.equal(reason('[[[[[1]]]]]'), 'nested deeper than 4 levels');
  assert.equal(reason('{"a":{"b":{"c":{"d":{}}}}}'), 'nested deeper than 4 levels');
  assert.equal(safeParseJson('[[[[1]]]]', limits).ok, true);
  assert.equal(safeParseJson('["[[[[[[[", "\\"[[[[[["]', limits).ok, true);
  // Broken JSON is still refused for depth first: nothing is built.
  assert.equal(reason('['.repeat(100_000).slice(0, 1000)), 'nested deeper than 4 levels');
});

test('invalid UTF-8 and invalid JSON: one line each', () => {
  assert.equal(reason(Buffer.from([0x7b, 0xff, 0x7d])), 'not valid UTF-8');
  assert.match(reason('{"a":'), /^invalid JSON: /);
  assert.match(reason(''), /^invalid JSON: /);
  assert.ok(!reason('{,}').includes('\n'));
});

test('__proto__, constructor and prototype keys are refused anywhere, and the value is still handed back', () => {
  for (const [text, where] of [
    ['{"__proto__":{"x":1}}', '(top level)'],
    ['{"a":[{"constructor":1}]}', 'a[0]'],
    ['{"a":{"prototype":null}}', 'a'],
  ] as const) {
    const r = safeParseJson(text, limits);
    assert.equal(r.ok, false);
    if (r.ok) continue;
    assert.match(r.reason, new RegExp(`^forbidden key "(__proto__|constructor|prototype)" at ${where.replace(/[[\]()]/g, '\\$&')}$`));
    assert.ok(r.value !== undefined);
  }
  // Nothing was polluted by looking.
  assert.equal(({} as Record<string, unknown>).x, undefined);
  // The words are fine as values.
  assert.equal(safeParseJson('{"a":"__proto__","b":["constructor"]}', limits).ok, true);
});
