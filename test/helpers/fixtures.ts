// Per-file fixtures: created before a file's first test, torn down after its last.
import { after, before } from 'node:test';
import { EngineClient } from '../../agent/probe/icmp/engine-client.js';
import { IcmpProber } from '../../agent/probe/icmp/icmp-prober.js';
import { Resolver } from '../../agent/probe/resolve.js';
import { TestNet, type TestNetOptions } from './netns.js';

/** One test host for the file; `ready` receives it once it exists. */
export function useTestNet(ready: (net: TestNet) => void, opts?: TestNetOptions): void {
  let net: TestNet | undefined;
  before(async () => {
    await TestNet.cleanupStale();
    net = await TestNet.create(opts);
    ready(net);
  });
  after(async () => {
    await net?.destroy();
  });
}

export interface ProberFixture {
  net: TestNet;
  engine: EngineClient;
  prober: IcmpProber;
}

/** A test host plus a started prober (its own engine child process) for the file. */
export function useProber(ready: (f: ProberFixture) => void): void {
  const engine = new EngineClient();
  const prober = new IcmpProber(engine, new Resolver());
  useTestNet((net) => ready({ net, engine, prober }));
  before(async () => {
    await engine.start();
  });
  after(async () => {
    await prober?.close();
  });
}
