// /usr/share/doc/fleetprobe/copyright in the machine-readable format (DEP-5): fleetprobe's
// own license, then one paragraph per bundled npm package with its license text as shipped.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LICENSE_FILE, type InstalledPackage, type PackageJson } from './node-modules.js';

const MIT_TEXT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`;

// Debian ships these texts; lintian wants a reference instead of a copy.
const COMMON_LICENSES: Record<string, string> = { 'Apache-2.0': 'Apache-2.0', 'CC0-1.0': 'CC0-1.0', 'MPL-2.0': 'MPL-2.0' };

/** A DEP-5 field body: continuation lines start with a space, empty lines are " .". */
function body(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .trim()
    .split('\n')
    .map((line) => (line.trim() === '' ? ' .' : ` ${line.trimEnd()}`))
    .join('\n');
}

/** SPDX expression to DEP-5 short names: "(MIT OR CC0-1.0)" -> "MIT or CC0-1.0". */
function licenseName(json: PackageJson): string {
  const raw = typeof json.license === 'string' ? json.license : json.license?.type ?? json.licenses?.map((l) => l.type).join(' OR ');
  if (!raw) throw new Error(`${json.name}: package.json names no license`);
  return raw.replace(/[()]/g, '').replace(/ OR /g, ' or ').replace(/ AND /g, ' and ').trim();
}

function authorName(json: PackageJson): string | null {
  if (!json.author) return null;
  return typeof json.author === 'string' ? json.author.replace(/\s*[<(].*$/, '') : json.author.name;
}

function licenseTexts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => LICENSE_FILE.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

function copyrightLines(texts: string[]): string[] {
  const lines = texts.flatMap((t) => t.split(/\r?\n/)).map((l) => l.trim());
  // "Copyright [yyyy] [name of copyright owner]" is the Apache license's own template line.
  return [...new Set(lines.filter((l) => /^(copyright\b|\(c\)|©)/i.test(l) && !l.includes('[yyyy]')))];
}

function packageParagraph(appDir: string, { dir, json }: InstalledPackage): string {
  const name = licenseName(json);
  const texts = licenseTexts(dir);
  const holders = copyrightLines(texts);
  const copyright = holders.length > 0 ? holders : [authorName(json) ?? `The ${json.name} authors`];
  let licenseText: string;
  if (COMMON_LICENSES[name]) {
    licenseText = `On Debian systems, the full text of the license can be found in /usr/share/common-licenses/${COMMON_LICENSES[name]}.`;
  } else if (texts.length > 0) {
    licenseText = texts.join('\n\n');
  } else if (name === 'MIT') {
    licenseText = MIT_TEXT;
  } else {
    throw new Error(`${json.name}: no license file and no known text for ${name}: add one to scripts/deb/copyright.ts`);
  }
  return [
    `Files: ${relative(appDir, dir)}/*`,
    `Copyright: ${copyright.join('\n ')}`,
    `Comment: npm package ${json.name} ${json.version}${json.homepage ? `, ${json.homepage}` : ''}`,
    `License: ${name}`,
    body(licenseText),
  ].join('\n');
}

export function copyrightFile(appDir: string, packages: InstalledPackage[], year: number): string {
  const own = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: fleetprobe',
    'Comment: The npm packages the agent needs at run time are bundled under',
    ' /usr/lib/fleetprobe/node_modules; each has a paragraph below, with the license text',
    ' it ships. Paths are relative to /usr/lib/fleetprobe.',
    '',
    'Files: *',
    `Copyright: ${year} The fleetprobe authors`,
    'License: MIT',
    body(MIT_TEXT),
  ].join('\n');
  return `${[own, ...packages.map((p) => packageParagraph(appDir, p))].join('\n\n')}\n`;
}
