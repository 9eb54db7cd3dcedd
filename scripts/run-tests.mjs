#!/usr/bin/env node
// Runs the compiled test files one file at a time: the integration tests create network
// namespaces and raw sockets, and one file at a time keeps their traffic and their
// timing apart. Pass file or directory arguments to run a subset.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ['dist/test/'];
for (const t of targets) {
  if (!existsSync(t)) {
    console.error(`run-tests: ${t} does not exist (did the build run?)`);
    process.exit(2);
  }
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...targets], { stdio: 'inherit' });
process.exit(r.status ?? 1);
