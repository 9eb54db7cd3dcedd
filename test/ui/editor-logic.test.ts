// The config editor's pure parts, run in Node as the browser runs them (the same ES module
// files): which line a schema problem belongs to, and the line diff against the applied config.
import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Problem {
  path: string;
  reason: string;
}
interface Locate {
  locatePaths(text: string): Map<string, number>;
  problemLine(text: string, problem: Problem): number;
}
interface Diff {
  diffLines(a: string[], b: string[]): Array<[string, string]> | null;
  hunks(diff: Array<[string, string]>, context?: number): Array<[string, string]>;
}

const web = (file: string) => new URL(`../../../console/web/${file}`, import.meta.url).href;
const { locatePaths, problemLine } = (await import(web('json-locate.js'))) as Locate;
const { diffLines, hunks } = (await import(web('diff.js'))) as Diff;

const DOC = `{
  "agent_operations": { "monitoring_enabled": true, "probe_interval": 60 },
  "probes": [
    { "name": "gw", "ip_address": "192.0.2.1" },
    {
      "name": "dns \\"quoted\\"",
      "ip_address": "198.51.100.53",
      "count": 0,
      "colour": "blue"
    }
  ]
}`;

test('a problem is shown on the line of its path, or of the nearest parent that exists', () => {
  const paths = locatePaths(DOC);
  assert.ok(paths.has('probes[1].count'));
  assert.ok(paths.has('agent_operations.probe_interval'));
  assert.equal(problemLine(DOC, { path: 'probes[1].count', reason: 'Too small' }), 8);
  assert.equal(problemLine(DOC, { path: 'probes[1].colour', reason: 'unknown key' }), 9);
  assert.equal(problemLine(DOC, { path: 'agent_operations.probe_interval', reason: 'x' }), 2);
  assert.equal(problemLine(DOC, { path: 'probes[0].count', reason: 'missing' }), 4, 'absent: its probe');
  assert.equal(problemLine(DOC, { path: 'probes[7]', reason: 'x' }), 3, 'absent: the array');
  assert.equal(problemLine(DOC, { path: '', reason: 'expected an object' }), 1);
});

test('a JSON syntax error is shown on the line of its position', () => {
  const text = '{\n  "probes": [\n    { "name": "a" }\n    { "name": "b" }\n  ]\n}';
  let message = '';
  try {
    JSON.parse(text);
  } catch (err) {
    message = (err as Error).message;
  }
  assert.equal(problemLine(text, { path: '', reason: message }), 4, message);
  // The scanner keeps what it found before the error.
  assert.ok(locatePaths(text).has('probes[0].name'));
});

test('diff: changed lines with two lines of context, … between hunks', () => {
  const a = ['{', '  "a": 1,', '  "b": 2,', '  "c": 3,', '  "d": 4,', '  "e": 5,', '  "f": 6,', '  "g": 7', '}'];
  const b = ['{', '  "a": 10,', '  "b": 2,', '  "c": 3,', '  "d": 4,', '  "e": 5,', '  "f": 6,', '  "g": 7,', '  "h": 8', '}'];
  const d = diffLines(a, b)!;
  assert.deepEqual(d.filter(([op]) => op !== ' '), [['-', '  "a": 1,'], ['+', '  "a": 10,'], ['-', '  "g": 7'], ['+', '  "g": 7,'], ['+', '  "h": 8']]);
  const h = hunks(d);
  assert.deepEqual(h.map(([op]) => op).join(''), ' -+  …  -++ ');
  assert.deepEqual(hunks(diffLines(a, a)!), []);
  assert.equal(diffLines(new Array(3000).fill('x'), new Array(3000).fill('y')), null, 'too large to compare');
});
