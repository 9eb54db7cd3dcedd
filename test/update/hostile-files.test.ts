// The two files the agent and the root updater share, with hostile contents. The updater
// (root) reads the agent's request: links, FIFOs, directories, other owners, huge or deep
// files and every field out of its shape are refused before anything is fetched or
// installed, and the request is taken away (no restart loop of the path unit). The agent
// reads the updater's result: anything that is not a valid result is set aside unanswered.
//
// The installer here wraps the real apt/dpkg of a throwaway root and records what the
// updater asked of it: the assertion is that nothing but "which version is installed" was.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UpdateControl } from '../../agent/control/update-control.js';
import type { CommandReply } from '../../agent/core/control.js';
import type { Installer } from '../../agent/update/installer.js';
import { resultFileSchema } from '../../agent/update/protocol.js';
import { Updater } from '../../agent/update/updater.js';
import { AptRoot, buildDeb, buildRepo, quietLogger, updaterDeps } from './fixtures.js';

const T = { timeout: 60_000 };
let base: string;
let root: AptRoot;
let secret: string;
let n = 0;

before(() => {
  base = mkdtempSync(join(tmpdir(), 'fp-hostile-'));
  mkdirSync(join(base, 'debs'));
  const deb = buildDeb(join(base, 'debs'), '1.0.0');
  root = new AptRoot(join(base, 'root'), buildRepo(base, [deb]));
  root.dpkgInstall(deb);
  secret = join(base, 'secret');
  writeFileSync(secret, 'TOP-SECRET root:$6$hash\n', { mode: 0o600 });
});

after(() => rmSync(base, { recursive: true, force: true }));

function spy(inner: Installer): { installer: Installer; calls: string[] } {
  const calls: string[] = [];
  const installer = new Proxy(inner, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { installer, calls };
}

interface Run {
  result: ReturnType<typeof resultFileSchema.parse> | null;
  calls: string[];
  log: string;
  left: string[];
}

async function runWith(prepare: (dir: string) => void, opts: { agentDir?: (dir: string) => string } = {}): Promise<Run> {
  const dir = join(base, `agent-${++n}`, 'update');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  prepare(dir);
  const { installer, calls } = spy(root.installer());
  const logger = quietLogger();
  await new Updater(updaterDeps(root, opts.agentDir?.(dir) ?? dir, join(base, `work-${n}`), { installer, logger })).runOnce();
  const resultPath = join(dir, 'result.json');
  const result = existsSync(resultPath) ? resultFileSchema.parse(JSON.parse(readFileSync(resultPath, 'utf8'))) : null;
  return { result, calls, log: logger.lines.join('\n'), left: existsSync(dir) ? readdirSync(dir).sort() : [] };
}

const req = (fields: Record<string, unknown>): string => JSON.stringify({ format: 1, id: 'h-1', requested_at: '2026-11-26T04:00:00.000Z', ...fields });
const NOTHING_DONE = ['installedVersion'];

function assertRefused(r: Run, reason: RegExp, withId: boolean): void {
  assert.ok(r.calls.every((c) => NOTHING_DONE.includes(c)), `the installer was asked to: ${r.calls.join(', ')}`);
  assert.equal(root.installedVersion(), '1.0.0');
  assert.ok(!r.left.includes('request.json'), `the request stays: ${r.left.join(' ')}`);
  assert.ok(r.left.some((f) => f.startsWith('request.json.rejected-')), r.left.join(' '));
  assert.match(r.log, reason);
  assert.doesNotMatch(r.log, /TOP-SECRET/);
  if (withId) {
    assert.equal(r.result?.id, 'h-1');
    assert.equal(r.result?.status, 'error');
    assert.match(r.result!.error!, /^request refused: /);
    assert.match(r.result!.error!, reason);
    assert.doesNotMatch(r.result!.error!, /TOP-SECRET/);
  } else assert.equal(r.result, null);
}

test('request files that are not plain files of the agent: refused unread', T, async () => {
  assertRefused(await runWith((d) => symlinkSync(secret, join(d, 'request.json'))), /request\.json is a symbolic link/, false);
  assertRefused(await runWith((d) => execFileSync('mkfifo', [join(d, 'request.json')])), /request\.json is not a regular file/, false);
  assertRefused(await runWith((d) => mkdirSync(join(d, 'request.json'))), /request\.json is not a regular file/, false);
  assertRefused(await runWith((d) => linkSync(secret, join(d, 'request.json'))), /request\.json has 2 hard links/, false);
  assertRefused(await runWith((d) => {
    writeFileSync(join(d, 'request.json'), req({ version: '1.1.0' }));
    chownSync(join(d, 'request.json'), 4242, 4242);
  }), /request\.json belongs to uid 4242, expected 0/, false);
  assertRefused(await runWith((d) => writeFileSync(join(d, 'request.json'), req({ version: '1.1.0', pad: 'x'.repeat(5000) }))), /request\.json has 5\d{3} bytes, more than 4096/, false);
});

test('request contents out of shape: refused with the id when there is one, nothing fetched', T, async () => {
  const cases: Array<[string | Buffer, RegExp, boolean]> = [
    [req({ version: '1.1.0; reboot' }), /version: expected a version x\.y\.z/, true],
    [req({ version: '01.1.0' }), /version: expected a version/, true],
    [req({ version: '1.1.0-1' }), /version: expected a version/, true],
    [req({ version: '../../../etc' }), /version: expected a version/, true],
    [req({ version: 110 }), /version: /, true],
    [req({ version: '1.1.0', url: 'https://x.example/a.deb' }), /unknown key/, true],
    [req({ version: '1.1.0', command: 'rm -rf /' }), /command: unknown key/, true],
    [req({ url: 'http://x.example/a.deb', sha256: 'a'.repeat(64), signature: `${'A'.repeat(86)}==` }), /url: must be https:\/\//, true],
    [req({ url: 'https://user:pw@x.example/a.deb', sha256: 'a'.repeat(64), signature: `${'A'.repeat(86)}==` }), /url: must not carry credentials/, true],
    [req({ url: 'file:///etc/shadow', sha256: 'a'.repeat(64), signature: `${'A'.repeat(86)}==` }), /url: must be https/, true],
    [req({ url: 'https://x.example/a.deb', sha256: 'A'.repeat(64), signature: `${'A'.repeat(86)}==` }), /sha256: expected 64 lowercase hex digits/, true],
    [req({ url: 'https://x.example/a.deb', sha256: 'a'.repeat(64), signature: 'c2ln' }), /signature: expected an Ed25519 signature/, true],
    [req({ url: 'https://x.example/a.deb', sha256: 'a'.repeat(64) }), /signature: /, true],
    [req({}), /request\.json: /, true],
    [JSON.stringify({ format: 2, id: 'h-1', requested_at: '2026-11-26T04:00:00.000Z', version: '1.1.0' }), /format: /, true],
    [`{"id":"h-1","format":1,"requested_at":"2026-11-26T04:00:00.000Z","version":"1.1.0","__proto__":{"x":1}}`, /forbidden key "__proto__"/, true],
    [`{"id":"h-1","v":${'['.repeat(20)}${']'.repeat(20)}}`, /nested deeper than 2 levels/, false],
    ['not json at all', /invalid JSON/, false],
    [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /not valid UTF-8/, false],
    [JSON.stringify({ id: 'has space', version: '1.1.0' }), /request\.json: /, false],
  ];
  for (const [content, re, withId] of cases) {
    const r = await runWith((d) => writeFileSync(join(d, 'request.json'), content));
    assertRefused(r, re, withId);
  }
});

test('a request directory that is a link, not the agent\'s, or writable by others: not read at all', T, async () => {
  const checks: Array<[(d: string) => void, ((d: string) => string) | undefined, RegExp]> = [
    [(d) => {
      writeFileSync(join(d, 'request.json'), req({ version: '1.1.0' }));
      symlinkSync(d, `${d}-link`);
    }, (d) => `${d}-link`, /is a symbolic link: no request is read from it/],
    [(d) => {
      writeFileSync(join(d, 'request.json'), req({ version: '1.1.0' }));
      chownSync(d, 4242, 4242);
    }, undefined, /belongs to uid 4242, expected 0: no request is read/],
    [(d) => {
      writeFileSync(join(d, 'request.json'), req({ version: '1.1.0' }));
      chmodSync(d, 0o777);
    }, undefined, /is writable by others \(mode 777\): no request is read/],
  ];
  for (const [prepare, agentDir, re] of checks) {
    const r = await runWith(prepare, agentDir ? { agentDir } : {});
    assert.deepEqual(r.calls, []);
    assert.match(r.log, re);
    assert.equal(r.result, null);
    assert.ok(r.left.includes('request.json'), 'left alone');
    assert.equal(root.installedVersion(), '1.0.0');
  }
});

// The agent's side: what it accepts as the updater's answer.
test('result files: only a valid result for an accepted command becomes the final reply; the rest is set aside', T, async () => {
  const stateDir = mkdtempSync(join(base, 'agent-state-'));
  const dir = join(stateDir, 'update');
  mkdirSync(dir, { mode: 0o700 });
  const finals: CommandReply[] = [];
  const stored = new Map<string, CommandReply>([['u-1', { id: 'u-1', status: 'accepted' }], ['u-2', { id: 'u-2', status: 'ok' }]]);
  const logger = quietLogger();
  const ctl = new UpdateControl({ stateDir, agentVersion: '1.0.0', publicKeyFile: undefined, storedReply: (id) => stored.get(id), logger, pollMs: 20 });
  ctl.bind(async (r) => (finals.push(r), true));
  const valid = (id: string): string => JSON.stringify({ format: 1, id, status: 'ok', installed_version: '1.1.0', previous_version: '1.0.0', attempted_version: '1.1.0', rolled_back: false, finished_at: '2026-11-26T04:00:00.000Z' });
  const poll = async (): Promise<void> => {
    ctl.start();
    await new Promise((r) => setTimeout(r, 150));
    await ctl.stop();
  };
  const hostile: Array<[(p: string) => void, RegExp]> = [
    [(p) => symlinkSync(secret, p), /is a symbolic link/],
    [(p) => execFileSync('mkfifo', [p]), /is not a regular file/],
    [(p) => writeFileSync(p, 'garbage'), /invalid JSON/],
    [(p) => writeFileSync(p, JSON.stringify({ format: 1, id: 'u-1', status: 'ok' })), /not an update result/],
    [(p) => writeFileSync(p, valid('u-1').replace('"ok"', '"installed"')), /not an update result/],
    [(p) => writeFileSync(p, `${valid('u-1').slice(0, -1)},"x":"${'y'.repeat(20_000)}"}`), /more than 16384/],
  ];
  for (const [make, re] of hostile) {
    make(join(dir, 'result.json'));
    await poll();
    assert.deepEqual(finals, []);
    assert.match(logger.lines.at(-1)!, re);
    assert.doesNotMatch(logger.lines.join('\n'), /TOP-SECRET/);
    assert.equal(existsSync(join(dir, 'result.json')), false, 'set aside');
  }
  // Six were set aside; the newest five are kept for a look.
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('result.json.invalid-')).length, 5);
  // A result for a command already answered finally (or never seen as accepted) is not sent twice.
  writeFileSync(join(dir, 'result.json'), valid('u-2'));
  await poll();
  assert.deepEqual(finals, []);
  assert.equal(existsSync(join(dir, 'result.json')), false);
  writeFileSync(join(dir, 'result.json'), valid('u-1'));
  await poll();
  assert.deepEqual(finals, [{ id: 'u-1', status: 'ok', result: { installed_version: '1.1.0', previous_version: '1.0.0', attempted_version: '1.1.0', rolled_back: false } }]);
  assert.equal(existsSync(join(dir, 'result.json')), false);
  // Something that is not the agent's request where the request goes does not block updates.
  symlinkSync(secret, join(dir, 'request.json'));
  await poll();
  assert.equal(existsSync(join(dir, 'request.json')), false);
  assert.match(logger.lines.at(-1)!, /request\.json is not a request: moved aside/);
});
