// The interface inside a far namespace that carries the extra pool addresses.
// A dummy interface is the natural choice, but some kernels (including the CI
// kernel this was written on) are built without CONFIG_DUMMY and answer
// "Unknown device type". A veth pair whose both ends stay in the namespace
// behaves the same for our purpose: an always-up local interface.
import { run } from './run.js';

export const POOL_LINK = 'pool0';
const STUB_LINK = 'pool0-stub';

type PoolKind = 'dummy' | 'veth';

let detectedKind: PoolKind | undefined;
const ready = new Map<string, Promise<void>>();

function createLines(kind: PoolKind): string[] {
  const add =
    kind === 'dummy'
      ? [`link add ${POOL_LINK} type dummy`]
      : [`link add ${POOL_LINK} type veth peer name ${STUB_LINK}`, `link set ${STUB_LINK} up`];
  return [...add, `link set ${POOL_LINK} up`];
}

async function create(ns: string): Promise<void> {
  if (detectedKind === undefined) {
    const res = await run('ip', ['-n', ns, '-batch', '-'], { input: `${createLines('dummy').join('\n')}\n`, allowFail: true });
    if (res.code === 0) {
      detectedKind = 'dummy';
      return;
    }
    if (!/unknown device type|not supported/i.test(res.stderr)) {
      throw new Error(`cannot create ${POOL_LINK} in ${ns}: ${res.stderr.trim()}`);
    }
    detectedKind = 'veth';
  }
  await run('ip', ['-n', ns, '-batch', '-'], { input: `${createLines(detectedKind).join('\n')}\n` });
}

/** Creates the pool interface once per namespace; concurrent callers share the work. */
export function ensurePoolLink(ns: string): Promise<void> {
  let p = ready.get(ns);
  if (!p) {
    p = create(ns);
    ready.set(ns, p);
    p.catch(() => ready.delete(ns));
  }
  return p;
}

/** Which interface type the pool uses on this kernel (undefined until first use). */
export function poolLinkKind(): PoolKind | undefined {
  return detectedKind;
}
