// The sd_notify protocol: message formats, the no-op without $NOTIFY_SOCKET, the
// sd_watchdog_enabled rules, and real datagrams through the addon to a listening socket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Logger } from '../../agent/core/logger.js';
import { loadNativeAddon } from '../../agent/native/addon.js';
import { SdNotifier, statusText, watchdogUsec } from '../../agent/service/sd-notify.js';
import { NotifyListener } from './notify-listener.js';

class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  debug(m: string): void { this.lines.push(`debug: ${m}`); }
  info(m: string): void { this.lines.push(`info: ${m}`); }
  warn(m: string): void { this.lines.push(`warn: ${m}`); }
  error(m: string): void { this.lines.push(`error: ${m}`); }
}

function recorder(): { sent: [string, string][]; send: (p: string, m: string) => void } {
  const sent: [string, string][] = [];
  return { sent, send: (p, m) => void sent.push([p, m]) };
}

test('without NOTIFY_SOCKET every call is a no-op', () => {
  const r = recorder();
  const log = new MemoryLogger();
  const n = SdNotifier.fromEnv({ WATCHDOG_USEC: '1000000' }, r.send, log);
  assert.equal(n.enabled, false);
  n.ready('x');
  n.status('x');
  n.watchdog();
  n.stopping('x');
  assert.deepEqual(r.sent, []);
  assert.deepEqual(log.lines, []);
});

test('a NOTIFY_SOCKET that is neither a path nor abstract is ignored with one warning', () => {
  const r = recorder();
  const log = new MemoryLogger();
  const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: 'vsock:2:1234' }, r.send, log);
  assert.equal(n.enabled, false);
  n.ready('x');
  assert.deepEqual(r.sent, []);
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!, /^warn: NOTIFY_SOCKET=vsock:2:1234/);
});

test('message formats: READY and STOPPING carry a STATUS; WATCHDOG is alone', () => {
  const r = recorder();
  const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: '/run/x/notify' }, r.send, new MemoryLogger());
  n.ready('probing 2 targets');
  n.status('probing 3 targets');
  n.watchdog();
  n.stopping('stopping');
  assert.deepEqual(r.sent, [
    ['/run/x/notify', 'READY=1\nSTATUS=probing 2 targets'],
    ['/run/x/notify', 'STATUS=probing 3 targets'],
    ['/run/x/notify', 'WATCHDOG=1'],
    ['/run/x/notify', 'STOPPING=1\nSTATUS=stopping'],
  ]);
});

test('STATUS text is one printable line of bounded length', () => {
  assert.equal(statusText('a\nREADY=1\r\n\tb\x1b[31m'), 'a READY=1 b [31m');
  const long = statusText('x'.repeat(1000));
  assert.equal(long.length, 200);
  assert.ok(long.endsWith('…'));
});

test('a failing socket never throws; it is logged once per distinct error and once when it works again', () => {
  const log = new MemoryLogger();
  let fail: string | null = 'notify sendto: Connection refused';
  const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: '@sd' }, () => {
    if (fail !== null) throw new Error(fail);
  }, log);
  n.watchdog();
  n.watchdog();
  n.watchdog();
  fail = 'notify sendto: No such file or directory';
  n.watchdog();
  fail = null;
  n.watchdog();
  n.watchdog();
  assert.deepEqual(log.lines, [
    'warn: cannot notify systemd at @sd: notify sendto: Connection refused',
    'warn: cannot notify systemd at @sd: notify sendto: No such file or directory',
    'info: systemd notifications to @sd work again',
  ]);
});

test('watchdogUsec follows sd_watchdog_enabled: unset, ours, another pid, invalid', () => {
  const log = new MemoryLogger();
  assert.equal(watchdogUsec({}, 42, log), null);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000' }, 42, log), 30_000_000);
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 42, log), 30_000_000);
  // Inherited by a child: the pings are the main process's job.
  assert.equal(watchdogUsec({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '41' }, 42, log), null);
  assert.equal(log.lines.length, 0);
  for (const bad of ['0', '-5', '1e6', 'soon', '99999999999999999999']) assert.equal(watchdogUsec({ WATCHDOG_USEC: bad }, 42, log), null, bad);
  assert.equal(log.lines.length, 5);
  assert.ok(log.lines.every((l) => l.startsWith('warn: WATCHDOG_USEC=')));
});

for (const kind of ['path', 'abstract'] as const) {
  test(`real datagrams through the addon to a socket (${kind}), sent by this very process`, async (t) => {
    const listener = await NotifyListener.start(kind);
    t.after(() => listener.close());
    const native = loadNativeAddon();
    const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: listener.socket }, (p, m) => native.notify(p, m), new MemoryLogger());
    n.ready('probing 1 target, 0 results buffered, no uplink');
    n.watchdog();
    n.stopping('stopping: finishing rounds in flight');
    await listener.waitFor((m) => 'STOPPING' in m.fields);
    assert.deepEqual(listener.messages.map((m) => m.fields), [
      { READY: '1', STATUS: 'probing 1 target, 0 results buffered, no uplink' },
      { WATCHDOG: '1' },
      { STOPPING: '1', STATUS: 'stopping: finishing rounds in flight' },
    ]);
    // NotifyAccess=main: systemd accepts these because the kernel says our pid sent them.
    assert.ok(listener.messages.every((m) => m.pid === process.pid));
  });
}

test('a missing socket: the addon throws, the notifier logs and carries on', () => {
  const native = loadNativeAddon();
  const log = new MemoryLogger();
  const n = SdNotifier.fromEnv({ NOTIFY_SOCKET: '/nonexistent/fleetprobe-notify' }, (p, m) => native.notify(p, m), log);
  n.watchdog();
  n.watchdog();
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!, /^warn: cannot notify systemd at \/nonexistent\/fleetprobe-notify: .*No such file/);
});
