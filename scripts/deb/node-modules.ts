// The production node_modules tree as the .deb ships it: which packages the agent needs at
// run time (reachable from package.json's dependencies, minus build-only ones), and which of
// their files are only there to build, test or document them.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

export interface PackageJson {
  name: string;
  version: string;
  license?: string | { type: string };
  licenses?: { type: string }[];
  author?: string | { name: string; email?: string };
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  homepage?: string;
  main?: string;
  bin?: string | Record<string, string>;
}

export interface InstalledPackage {
  dir: string;
  json: PackageJson;
}

/**
 * Edges that exist only for `npm install`: the addons are compiled before packaging, so
 * nothing loads these at run time.
 */
const BUILD_ONLY: Record<string, string> = {
  nan: "raw-socket's C++ headers",
  'prebuild-install': "better-sqlite3's downloader of prebuilt binaries (we compile)",
};

function isBuildOnly(name: string): boolean {
  // Type declarations: mqtt lists some as dependencies, but Node never reads them.
  return name in BUILD_ONLY || name.startsWith('@types/');
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Node's lookup: <from>/node_modules/<name>, then each parent's, up to the app root. */
function resolvePackage(appDir: string, fromDir: string, name: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === appDir || relative(appDir, dir).startsWith('..')) return null;
  }
}

/** The packages reachable from the app's dependencies, build-only edges cut. */
export function runtimePackages(appDir: string): InstalledPackage[] {
  const seen = new Map<string, InstalledPackage>();
  const visit = (fromDir: string, deps: Record<string, string>, optional: boolean): void => {
    for (const name of Object.keys(deps)) {
      if (isBuildOnly(name)) continue;
      const dir = resolvePackage(appDir, fromDir, name);
      if (dir === null) {
        if (optional) continue;
        throw new Error(`${relative(appDir, fromDir) || 'package.json'} needs ${name}, which is not installed`);
      }
      if (seen.has(dir)) continue;
      const json = readPackageJson(dir);
      seen.set(dir, { dir, json });
      visit(dir, json.dependencies ?? {}, false);
      visit(dir, { ...json.optionalDependencies, ...json.peerDependencies }, true);
    }
  };
  visit(appDir, readPackageJson(appDir).dependencies ?? {}, false);
  return [...seen.values()].sort((a, b) => a.dir.localeCompare(b.dir));
}

/** Every package directory under a node_modules folder (scoped ones included). */
function installedPackageDirs(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  return readdirSync(nodeModules).flatMap((entry) => {
    if (entry.startsWith('.')) return [];
    const path = join(nodeModules, entry);
    return entry.startsWith('@') ? readdirSync(path).map((e) => join(path, e)) : [path];
  });
}

// Files nothing loads at run time: sources (TypeScript, C/C++), declarations and source maps,
// docs, and the tooling configs npm packages tend to carry along.
const DROP_FILE = [
  /\.(ts|mts|cts|map|md|markdown|c|cc|cpp|h|hpp|gyp|gypi|sh|py|tsbuildinfo)$/i,
  /^(Makefile|CMakeLists\.txt|binding\.gyp|tsconfig(\..*)?\.json|(CHANGELOG|CHANGES|HISTORY)(\..*)?)$/i,
];
// License texts stay with their packages, whatever their extension (LICENSE.md).
export const LICENSE_FILE = /^(licen[cs]e|copying|notice|unlicense)/i;
// Top-level folders of a package that hold tests, examples, docs or benchmarks.
const DROP_TOP_DIR = new Set(['test', 'tests', '__tests__', 'fixture', 'fixtures', 'example', 'examples', 'benchmark', 'benchmarks', 'bench', 'doc', 'docs']);
// A compiled addon needs build/Release/<name>.node only: the rest of build/ is intermediates
// (obj.target, .deps, Makefiles), and src/ and deps/ are the C/C++ sources.
const ADDON_SOURCE_DIRS = ['src', 'deps'];
// better-sqlite3 builds a SQLite extension for its own tests.
const DROP_ADDON = new Set(['test_extension.node']);

function pruneFiles(dir: string, top: boolean): void {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    const isDir = statSync(path).isDirectory();
    if (entry.startsWith('.') || (top && isDir && DROP_TOP_DIR.has(entry)) || (!isDir && !LICENSE_FILE.test(entry) && DROP_FILE.some((re) => re.test(entry)))) {
      rmSync(path, { recursive: true, force: true });
    } else if (isDir && entry !== 'node_modules') {
      pruneFiles(path, false);
    }
  }
}

function pruneAddon(dir: string): void {
  for (const sub of ADDON_SOURCE_DIRS) rmSync(join(dir, sub), { recursive: true, force: true });
  const build = join(dir, 'build');
  for (const entry of existsSync(build) ? readdirSync(build) : []) {
    if (entry !== 'Release') rmSync(join(build, entry), { recursive: true, force: true });
  }
  const release = join(build, 'Release');
  for (const entry of existsSync(release) ? readdirSync(release) : []) {
    if (!entry.endsWith('.node') || DROP_ADDON.has(entry)) rmSync(join(release, entry), { recursive: true, force: true });
  }
}

/** The package's command-line programs: the agent only loads libraries, and npm's .bin is gone. */
function dropBins({ dir, json }: InstalledPackage): void {
  const bins = typeof json.bin === 'string' ? [json.bin] : Object.values(json.bin ?? {});
  const main = normalize(json.main ?? 'index.js');
  for (const bin of bins) if (normalize(bin) !== main) rmSync(join(dir, bin), { force: true });
}

function removeEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory() && removeEmptyDirs(path)) rmSync(path, { recursive: true });
    else empty = false;
  }
  return empty;
}

/**
 * Removes the packages nothing loads at run time, then the files of the remaining ones that
 * only serve building, testing or documenting them. Returns the packages kept.
 */
export function pruneNodeModules(appDir: string): InstalledPackage[] {
  const keep = runtimePackages(appDir);
  const kept = new Set(keep.map((p) => p.dir));
  const sweep = (nodeModules: string): void => {
    rmSync(join(nodeModules, '.bin'), { recursive: true, force: true });
    rmSync(join(nodeModules, '.package-lock.json'), { force: true });
    for (const dir of installedPackageDirs(nodeModules)) {
      if (kept.has(dir)) sweep(join(dir, 'node_modules'));
      else rmSync(dir, { recursive: true, force: true });
    }
  };
  sweep(join(appDir, 'node_modules'));
  for (const pkg of keep) {
    // Before pruneFiles: it would take binding.gyp, which is how an addon is recognized.
    if (existsSync(join(pkg.dir, 'binding.gyp'))) pruneAddon(pkg.dir);
    dropBins(pkg);
    pruneFiles(pkg.dir, true);
  }
  removeEmptyDirs(join(appDir, 'node_modules'));
  return keep;
}
