import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { OutboxUnavailableError } from '../../agent/outbox/index.js';
import { dirSnapshot, openTestOutbox, round, tempDir } from '../helpers/outbox-fixtures.js';
import { Tmpfs } from '../helpers/outbox-tmpfs.js';

const NOBODY = 65534;
const child = join(dirname(fileURLToPath(import.meta.url)), 'open-child.js');
const isRoot = process.getuid?.() === 0;

function assertUnavailable(open: () => unknown, path: string, reason: RegExp): void {
  assert.throws(open, (e: unknown) => {
    assert.ok(e instanceof OutboxUnavailableError, `not OutboxUnavailableError: ${String(e)}`);
    assert.equal(e.path, path);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(e.message.startsWith(`outbox ${path}: `), e.message);
    assert.match(e.reason, reason);
    return true;
  });
}

/** Opens the outbox as uid/gid nobody in a child process; returns its outcome. */
function openAsNobody(path: string): { ok: boolean; name?: string; message?: string } {
  const r = spawnSync(process.execPath, [child, path], { uid: NOBODY, gid: NOBODY, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim()) as { ok: boolean; name?: string; message?: string };
}

test('state directory missing: one-line typed error, nothing created', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'state', 'outbox.db');
  assertUnavailable(() => openTestOutbox(path), path, new RegExp(`^state directory ${join(dir, 'state')} does not exist$`));
  assert.equal(existsSync(join(dir, 'state')), false);
});

test('path is a directory, or the state directory is a file', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'outbox.db'));
  assertUnavailable(() => openTestOutbox(join(dir, 'outbox.db')), join(dir, 'outbox.db'), /outbox\.db is not a regular file$/);
  const asFile = join(dir, 'state');
  writeFileSync(asFile, '');
  assertUnavailable(() => openTestOutbox(join(asFile, 'outbox.db')), join(asFile, 'outbox.db'), new RegExp(`^state directory ${asFile} is not a directory$`));
});

test('read-only file system: one-line typed error naming the reason, nothing changed', (t) => {
  const fs = Tmpfs.mount('4m');
  if (fs === undefined) return t.skip('cannot mount tmpfs here (needs root)');
  try {
    const path = join(fs.dir, 'outbox.db');
    const { outbox } = openTestOutbox(path);
    outbox.append(round(0, 5));
    outbox.close();
    fs.remount('ro');
    const before = dirSnapshot(fs.dir);
    assertUnavailable(() => openTestOutbox(path), path, new RegExp(`^state directory ${fs.dir} is on a read-only file system$`));
    assert.deepEqual(dirSnapshot(fs.dir), before);
  } finally {
    fs.unmount();
  }
});

test('state directory not writable by the service user: one-line typed error, nothing created', (t) => {
  if (!isRoot) return t.skip('needs root to run a child as another user');
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o755 }); // owned by root
  const path = join(state, 'outbox.db');
  const r = openAsNobody(path);
  assert.equal(r.ok, false);
  assert.equal(r.name, 'OutboxUnavailableError');
  assert.equal(r.message, `outbox ${path}: state directory ${state} is not writable by uid ${NOBODY} (owner uid 0, mode 0755)`);
  assert.deepEqual(dirSnapshot(state), []);
});

test('database file not writable by the service user: one-line typed error, nothing changed', (t) => {
  if (!isRoot) return t.skip('needs root to run a child as another user');
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o755 });
  chownSync(state, NOBODY, NOBODY);
  const path = join(state, 'outbox.db');
  const { outbox } = openTestOutbox(path); // made by root, e.g. a manual run as root
  outbox.append(round(0, 5));
  outbox.close();
  const before = dirSnapshot(state);
  const content = readFileSync(path);
  const r = openAsNobody(path);
  assert.equal(r.ok, false);
  assert.equal(r.message, `outbox ${path}: file ${path} is not readable and writable by uid ${NOBODY} (owner uid 0, mode 0644)`);
  assert.deepEqual(dirSnapshot(state), before);
  assert.ok(readFileSync(path).equals(content));

  // The same directory works once the file belongs to the service user.
  chownSync(path, NOBODY, NOBODY);
  assert.deepEqual(openAsNobody(path), { ok: true });
});

test('a SQLite database that is not an outbox is refused, not moved aside', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'outbox.db');
  const db = new Database(path);
  db.exec('CREATE TABLE other (x); INSERT INTO other VALUES (1)');
  db.close();
  const before = dirSnapshot(dir);
  assertUnavailable(() => openTestOutbox(path), path, /^not a fleetprobe outbox \(application_id 0, tables: other\)$/);
  assert.deepEqual(dirSnapshot(dir), before);
});
