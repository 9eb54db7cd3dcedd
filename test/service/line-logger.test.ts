// Log lines for journald: one line per event with its level, `<N>` priority prefixes when
// stderr is the journal, colour only on a terminal.
import assert from 'node:assert/strict';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { colourWanted, journalStream, LineLogger } from '../../agent/service/line-logger.js';

class Sink extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function logAll(l: LineLogger): void {
  l.debug('d');
  l.info('i');
  l.warn('w');
  l.error('e');
}

test('plain lines with the level, no escape codes when not a terminal; below minLevel dropped', () => {
  const out = new Sink(false);
  logAll(new LineLogger(out, 'debug'));
  assert.equal(out.text, 'debug: d\ninfo: i\nwarn: w\nerror: e\n');
  const warnOnly = new Sink(false);
  logAll(new LineLogger(warnOnly, 'warn'));
  assert.equal(warnOnly.text, 'warn: w\nerror: e\n');
});

test('on a terminal the level is coloured (info stays plain); colour: false turns it off', () => {
  const tty = new Sink(true);
  logAll(new LineLogger(tty, 'debug'));
  assert.equal(tty.text, '\x1b[2mdebug\x1b[0m: d\ninfo: i\n\x1b[33mwarn\x1b[0m: w\n\x1b[31merror\x1b[0m: e\n');
  const plain = new Sink(true);
  logAll(new LineLogger(plain, 'debug', { colour: false }));
  assert.equal(plain.text, 'debug: d\ninfo: i\nwarn: w\nerror: e\n');
});

test('journal: syslog priority prefixes (journalctl -p warning works), never colour', () => {
  const out = new Sink(true);
  logAll(new LineLogger(out, 'debug', { journal: true }));
  assert.equal(out.text, '<7>debug: d\n<6>info: i\n<4>warn: w\n<3>error: e\n');
});

test('one event is one line, and control characters from the network are escaped', () => {
  const out = new Sink(false);
  const l = new LineLogger(out, 'info', { journal: true });
  l.warn('broker said:\r\n<0>panic\x1b[2J\tdone\x07');
  // The `<0>` is mid-line, so journald does not read it as a priority.
  assert.equal(out.text, '<4>warn: broker said: <0>panic\\x1b[2J\tdone\\x07\n');
});

test('journalStream: true only when $JOURNAL_STREAM names the very file fd points at', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-journal-'));
  const fd = openSync(join(dir, 'stream'), 'w');
  const other = openSync(join(dir, 'other'), 'w');
  t.after(() => {
    closeSync(fd);
    closeSync(other);
    rmSync(dir, { recursive: true, force: true });
  });
  const s = fstatSync(fd);
  const env = { JOURNAL_STREAM: `${s.dev}:${s.ino}` };
  assert.equal(journalStream(env, fd), true);
  assert.equal(journalStream(env, other), false, 'stderr redirected elsewhere by a shell');
  assert.equal(journalStream({}, fd), false);
  assert.equal(journalStream({ JOURNAL_STREAM: 'junk' }, fd), false);
  assert.equal(journalStream(env, 987_654), false, 'a closed fd');
});

test('colourWanted honours NO_COLOR and TERM=dumb', () => {
  assert.equal(colourWanted({}), true);
  assert.equal(colourWanted({ NO_COLOR: '1' }), false);
  assert.equal(colourWanted({ NO_COLOR: '' }), true);
  assert.equal(colourWanted({ TERM: 'dumb' }), false);
});
