import { readFileSync } from 'node:fs';

/** The package version, read from package.json next to dist/ (in the repo and in the .deb). */
export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** No correct clock reads earlier than this release: a floor for the clock check. */
export const RELEASE_FLOOR = new Date('2026-11-01T00:00:00Z');
