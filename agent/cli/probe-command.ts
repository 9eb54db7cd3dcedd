import type { Logger } from '../core/logger.js';
import type { Prober } from '../core/probe.js';
import type { ProbeResult } from '../core/result.js';
import type { Scheduler } from '../schedule/scheduler.js';
import { EXIT } from './errors.js';
import type { ProbeOptions } from './probe-args.js';
import { formatSummary } from './probe-output.js';

export interface ProbeCommandDeps {
  prober: Prober;
  scheduler: Scheduler;
  logger: Logger;
  stdout: NodeJS.WritableStream;
}

/** Runs the rounds on the scheduler's grid and prints each round as it completes. */
export async function runProbeCommand(opts: ProbeOptions, deps: ProbeCommandDeps, signal?: AbortSignal): Promise<number> {
  const answered = new Set<number>();
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const print = (results: ProbeResult[], round: number): void => {
    results.forEach((r, k) => {
      if (r.received > 0) answered.add(k);
      deps.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${formatSummary(r, opts.rounds > 1 ? round : null)}\n\n`);
    });
  };
  let started = 0;
  let inFlight = false;
  // Interrupted (Ctrl-C): like ping, end the round in flight with what came back, print it, stop.
  signal?.addEventListener('abort', () => {
    started = opts.rounds;
    if (inFlight) deps.prober.flush();
    else finish();
  });
  deps.scheduler.setTasks([
    {
      name: 'probe',
      every_s: opts.every_s,
      run: async (roundStart) => {
        if (started >= opts.rounds) return;
        const round = ++started;
        inFlight = true;
        const results = await deps.prober.runRound(opts.specs, roundStart).finally(() => (inFlight = false));
        print(results, round);
        if (++done === opts.rounds || started >= opts.rounds) finish();
      },
    },
  ]);
  await finished;
  await deps.scheduler.stop();
  const skipped = deps.scheduler.skippedTotal;
  if (skipped > 0) deps.logger.warn(`${skipped} round(s) skipped: a round took longer than --every`);
  return answered.size === opts.specs.length ? EXIT.OK : EXIT.FAILED;
}
