import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, test } from 'node:test';
import { TestNet } from '../helpers/netns.js';
import { pingRef } from '../helpers/ping-ref.js';
import { run } from '../helpers/run.js';

before(async () => {
  await TestNet.cleanupStale();
});

async function namespaces(): Promise<string> {
  return (await run('ip', ['netns', 'list'])).stdout;
}

async function routes(): Promise<string> {
  const [v4, v6] = await Promise.all([run('ip', ['route']), run('ip', ['-6', 'route'])]);
  return v4.stdout + v6.stdout;
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', name], { allowFail: true })).code === 0;
}

test('ping reaches the far host over IPv4 and IPv6, and the far host reaches back', async () => {
  const net = await TestNet.create();
  try {
    assert.match(net.ns, new RegExp(`^fptest-${process.pid}-\\d+$`));
    const p4 = await pingRef(net.hostAddr4, { count: 3, intervalS: 0.01 });
    assert.equal(p4.received, 3, p4.output);
    const p6 = await pingRef(net.hostAddr6, { count: 3, intervalS: 0.01 });
    assert.equal(p6.received, 3, p6.output);
    const back4 = await pingRef(net.localAddr4, { count: 1, intervalS: 0.2, ns: net.ns });
    const back6 = await pingRef(net.localAddr6, { count: 1, intervalS: 0.2, ns: net.ns });
    assert.equal(back4.received + back6.received, 2);
  } finally {
    await net.destroy();
  }
});

test('concurrent instances get distinct namespaces, links and address blocks', async () => {
  const nets = await Promise.all([TestNet.create(), TestNet.create(), TestNet.create()]);
  try {
    assert.equal(new Set(nets.map((n) => n.ns)).size, 3);
    assert.equal(new Set(nets.map((n) => n.rootLink)).size, 3);
    assert.equal(new Set(nets.map((n) => n.block4)).size, 3);
    for (const n of nets) {
      const p = await pingRef(n.hostAddr4, { count: 2, intervalS: 0.01 });
      assert.equal(p.received, 2, `${n.ns}: ${p.output}`);
    }
  } finally {
    await Promise.all(nets.map((n) => n.destroy()));
  }
});

test('destroy removes namespace, veth and routes, and is idempotent', async () => {
  const net = await TestNet.create();
  await net.addAddresses(10);
  const { ns, rootLink, block4, block6 } = net;
  assert.ok((await namespaces()).includes(ns));
  assert.ok((await routes()).includes(block4));
  await Promise.all([net.destroy(), net.destroy()]);
  await net.destroy();
  assert.ok(net.destroyed);
  assert.ok(!(await namespaces()).includes(ns), 'namespace left behind');
  assert.ok(!(await linkExists(rootLink)), 'veth left behind');
  const left = await routes();
  for (const needle of [rootLink, block4, block6]) assert.ok(!left.includes(needle), `route with ${needle} left behind:\n${left}`);
  if (!(await namespaces()).includes('fptest-')) {
    assert.ok(!left.includes('198.18.0.0/15') && !left.includes('fd66:7072:6f62::/48'), 'guard routes left behind');
  }
  await assert.rejects(net.setLoss(10), /destroyed/);
});

test('ipv6: false creates an IPv4-only namespace', async () => {
  const net = await TestNet.create({ ipv6: false });
  try {
    assert.throws(() => net.hostAddr6, /ipv6: false/);
    assert.equal((await pingRef(net.hostAddr4, { count: 1, intervalS: 0.2 })).received, 1);
  } finally {
    await net.destroy();
  }
});

test('exec and spawn run inside the namespace', async () => {
  const net = await TestNet.create();
  try {
    const { stdout } = await net.exec('ip', ['-br', 'addr', 'show', 'dev', 'veth0']);
    assert.ok(stdout.includes(net.hostAddr4), stdout);
    const child = net.spawn('ip', ['-br', 'link'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
    await new Promise((resolve) => child.on('close', resolve));
    assert.match(out, /^veth0@/m);
    assert.doesNotMatch(out, /^eth0/m, 'root namespace interfaces must not be visible');
  } finally {
    await net.destroy();
  }
});

const NETNS_MODULE = new URL('../helpers/netns.js', import.meta.url).href;

/** Starts a separate node process that creates a TestNet, prints its namespace and then idles or exits. */
async function childWithNet(thenExit: boolean): Promise<{ ns: string; kill: () => void; exited: Promise<void> }> {
  const code = `import { TestNet } from ${JSON.stringify(NETNS_MODULE)};
    const n = await TestNet.create(); console.log(n.ns); ${thenExit ? '' : 'setInterval(() => {}, 1000);'}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ns = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => reject(new Error(`child exited early: ${out}`)));
  });
  return { ns, kill: () => child.kill('SIGKILL'), exited };
}

test('a process that exits without destroy() cleans up in its exit hook', async () => {
  const child = await childWithNet(true);
  await child.exited;
  assert.ok(!(await namespaces()).includes(child.ns), `${child.ns} survived its process`);
});

test('cleanupStale removes leftovers of killed processes but keeps live ones', async () => {
  const mine = await TestNet.create();
  try {
    const child = await childWithNet(false);
    child.kill();
    await child.exited;
    assert.ok((await namespaces()).includes(child.ns), 'SIGKILL should leave the namespace behind');
    const removed = await TestNet.cleanupStale();
    assert.ok(removed.includes(child.ns), `removed: ${removed.join(', ')}`);
    assert.ok(!(await namespaces()).includes(child.ns));
    assert.ok((await namespaces()).includes(mine.ns), 'a live namespace was removed');
    assert.equal((await pingRef(mine.hostAddr4, { count: 1, intervalS: 0.2 })).received, 1);
  } finally {
    await mine.destroy();
  }
});
