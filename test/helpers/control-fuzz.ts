// Payloads that must all be refused, for the control-topic fuzz test: random bytes, broken
// JSON, huge, deep, wrong types, prototype keys, policy breakers. Seeded, so a failure can
// be reproduced.

export interface FuzzPayload {
  payload: Buffer;
  /** The command id the agent can answer (null: it cannot be answered, only counted). */
  id: string | null;
  kind: string;
}

/** mulberry32: small, seedable, good enough to pick cases. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const int = (rnd: () => number, n: number): number => Math.floor(rnd() * n);

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rnd, 256);
  // Starting with "{" or "[" and ending in garbage: never valid JSON, never empty.
  b[0] = pick(rnd, [0x7b, 0x5b, 0xff, 0x00]);
  return b;
}

const deep = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);
const wrongValues: readonly unknown[] = ['x', -1, 1.5, null, true, [], {}, 1e308, { a: 1 }];
const probe = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'p', ip_address: '127.0.0.1', count: 1, ...over });
/** Even where a mutation leaves it valid (a name, a host name), its size breaks the policy. */
const refusedProbe = (over: Record<string, unknown>): Record<string, unknown> => ({ name: 'p', ip_address: '192.0.2.1', count: 1, size: 9000, ...over });

/** A config message that the agent must reject (never one it could apply or ignore). */
export function badConfig(rnd: () => number, i: number): FuzzPayload {
  const v = 1000 + i; // newer than anything applied: never ignored as old
  const cases: Array<() => string | Buffer> = [
    () => randomBytes(rnd, 1 + int(rnd, 300)),
    () => JSON.stringify({ version: v, probes: [probe()] }).slice(0, 5 + int(rnd, 30)),
    () => JSON.stringify({ version: v, probes: Array.from({ length: 2000 }, (_, k) => probe({ name: `huge-${k}` })) }),
    () => `{"version":${v},"probes":${deep(20 + int(rnd, 500))}}`,
    () => deep(17),
    () => JSON.stringify(pick(rnd, [1, 'config', null, true, [], [{ version: v }]])),
    () => JSON.stringify({ version: pick(rnd, ['1', -1, 1.5, null, [], 2 ** 60]), probes: [] }),
    () => JSON.stringify({ probes: [probe()] }),
    () => JSON.stringify({ version: v, probes: pick(rnd, wrongValues.filter((x) => !Array.isArray(x))) }),
    () => JSON.stringify({ version: v, probes: [refusedProbe({ [pick(rnd, ['count', 'size', 'interval_ms', 'timeout_ms', 'ip_address', 'name', 'family', 'cron'])]: pick(rnd, wrongValues) })] }),
    () => JSON.stringify({ version: v, agent_operations: pick(rnd, wrongValues.filter((x) => !(typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 0))), probes: [] }),
    () => JSON.stringify({ version: v, probes: [], [pick(rnd, ['uplink', 'safety', 'device', 'state_dir', 'extra'])]: {} }),
    () => `{"version":${v},"probes":[],"__proto__":{"polluted":true}}`,
    () => `{"version":${v},"agent_operations":{"constructor":{"prototype":{"x":1}}},"probes":[]}`,
    () => `{"version":${v},"probes":[{"name":"p","ip_address":"127.0.0.1","prototype":1}]}`,
    () => JSON.stringify({ version: v, probes: [probe({ ip_address: pick(rnd, ['224.0.0.1', '255.255.255.255', '0.0.0.0', '::', 'ff02::1', '192.0.2.1', '10.0.0.1']) })] }),
    () => JSON.stringify({ version: v, probes: [probe({ count: 100, interval_ms: 2 })] }),
    () => JSON.stringify({ version: v, probes: Array.from({ length: 201 }, (_, k) => probe({ name: `m${k}`, probe_interval: 3600 })) }),
    () => JSON.stringify({ version: v, probes: [probe(), probe()] }),
  ];
  const k = int(rnd, cases.length);
  const text = cases[k]!();
  const payload = Buffer.isBuffer(text) ? text : Buffer.from(text);
  return { payload: payload.length === 0 ? Buffer.from('{') : payload, id: null, kind: `config-${k}` };
}

/** A command message that the agent must reject; `id` says whether it can be answered. */
export function badCommand(rnd: () => number, i: number): FuzzPayload {
  const id = `fuzz-${i}`;
  const ok = (env: Record<string, unknown>): FuzzPayload => ({ payload: Buffer.from(JSON.stringify(env)), id, kind: 'command-with-id' });
  const noId = (payload: string | Buffer): FuzzPayload => ({ payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), id: null, kind: 'command-without-id' });
  const cases: Array<() => FuzzPayload> = [
    () => noId(randomBytes(rnd, 1 + int(rnd, 300))),
    () => noId(JSON.stringify({ id, command: 'stop' }).slice(0, 3 + int(rnd, 20))),
    () => noId(JSON.stringify({ id, command: 'probe-now', args: { names: Array.from({ length: 9000 }, (_, k) => `n${k}`) } })),
    () => noId(`{"id":"${id}","args":${deep(40)}}`),
    () => noId(JSON.stringify({ id: pick(rnd, [7, null, '', 'a b', 'x'.repeat(200), ['x'], { id }]), command: 'stop' })),
    () => noId(JSON.stringify(pick(rnd, [[], 'stop', 1, null]))),
    () => noId(JSON.stringify({ command: 'stop' })),
    () => ok({ id, command: pick(rnd, ['update', 'reboot', 'STOP', 'rm -rf /', '__proto__', 'constructor']) }),
    () => ok({ id, command: pick(rnd, [1, null, [], {}, true]) }),
    () => ok({ id, command: 'update', args: pick(rnd, [{}, { version: '1.2' }, { version: '1.2.3;reboot' }, { url: 'http://x.example/a.deb' }, { url: 'https://x.example/a.deb' }, { version: '1.2.3', url: 'https://x.example/a.deb' }]) }),
    () => ok({ id }),
    () => ok({ id, command: pick(rnd, ['start', 'stop', 'drain', 'restart']), args: { [pick(rnd, ['x', 'force', 'names'])]: pick(rnd, wrongValues) } }),
    () => ok({ id, command: 'probe-now', args: { names: pick(rnd, ['a', 1, [], [1], [''], null]) } }),
    () => ok({ id, command: pick(rnd, ['start', 'stop', 'restart']), args: pick(rnd, ['x', 1, [], null]) }),
    () => ok({ id, command: pick(rnd, ['stop', 'restart']), expires_at: pick(rnd, ['2001-01-01T00:00:00Z', new Date(Date.now() - 60_000).toISOString()]) }),
    () => ok({ id, command: 'stop', expires_at: pick(rnd, ['soon', 5, '2030-13-45', null]) }),
    () => ok({ id, command: 'stop', [pick(rnd, ['extra', 'ttl', 'reply_to'])]: 1 }),
    () => ({ payload: Buffer.from(`{"id":"${id}","command":"stop","args":{"__proto__":{"x":1}}}`), id, kind: 'proto-with-id' }),
    () => ({ payload: Buffer.from(`{"id":"${id}","command":"restart","constructor":{"prototype":{}}}`), id, kind: 'proto-with-id' }),
  ];
  return cases[int(rnd, cases.length)]!();
}
