#!/usr/bin/env node
// Runs the compiled test files (*.test.js) one file at a time: the integration tests create
// network namespaces and raw sockets, and one file at a time keeps their traffic and their
// timing apart. Pass files or directories to run a subset.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path) {
  if (!existsSync(path)) {
    console.error(`run-tests: ${path} does not exist (did the build run?)`);
    process.exit(2);
  }
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? collect(join(path, e.name)) : e.name.endsWith('.test.js') ? [join(path, e.name)] : []));
}

const args = process.argv.slice(2);
const files = (args.length > 0 ? args : ['dist/test']).flatMap(collect);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
