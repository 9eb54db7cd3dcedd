// What is inside each .deb: control fields, maintainer scripts, files with their modes and
// owners, the architecture of every addon, the copyright file, the man page, and lintian.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { USAGE } from '../../agent/main.js';
import { PROBE_USAGE } from '../../agent/cli/probe-args.js';
import { ARCHS, builtDebs, packageVersion, REPO, run, unitList, type Arch } from './helpers.js';

const FILE_ARCH: Record<Arch, RegExp> = { amd64: /x86-64/, arm64: /ARM aarch64/, armhf: /ARM, EABI5/ };
const ADDONS = ['better_sqlite3.node', 'fleetprobe_native.node', 'raw.node'];
const APP = 'usr/lib/fleetprobe';

let debs: Record<Arch, string>;
let UNITS: { how: string; unit: string }[];
const trees: Partial<Record<Arch, string>> = {};

before(async () => {
  debs = await builtDebs(ARCHS);
  UNITS = await unitList(join(REPO, 'systemd'));
  for (const arch of ARCHS) {
    const dir = mkdtempSync(join(tmpdir(), `fleetprobe-deb-${arch}-`));
    await run('dpkg-deb', ['--raw-extract', debs[arch], dir]);
    trees[arch] = dir;
  }
});

after(() => {
  for (const dir of Object.values(trees)) rmSync(dir, { recursive: true, force: true });
});

function tree(arch: Arch): string {
  return trees[arch]!;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

interface Entry {
  mode: string;
  owner: string;
  path: string;
  link: string | null;
}

async function listing(arch: Arch): Promise<Entry[]> {
  const { stdout } = await run('dpkg-deb', ['--contents', debs[arch]]);
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.\/(\S*)(?: -> (\S+))?$/.exec(line);
      assert.ok(m, `unexpected dpkg-deb -c line: ${line}`);
      return { mode: m[1]!, owner: m[2]!, path: m[3]!, link: m[4] ?? null };
    });
}

for (const arch of ARCHS) {
  describe(`${arch} package`, () => {
    test('control fields and dependencies', async () => {
      const { stdout } = await run('dpkg-deb', ['--field', debs[arch], 'Package', 'Version', 'Architecture', 'Depends', 'Maintainer', 'Section', 'Installed-Size', 'Description']);
      const f = Object.fromEntries(stdout.split('\n').filter((l) => /^[A-Z][\w-]*: /.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      assert.equal(f.Package, 'fleetprobe');
      assert.equal(f.Version, packageVersion());
      assert.equal(f.Architecture, arch);
      assert.equal(f.Section, 'net');
      assert.match(f.Maintainer ?? '', /^.+ <[^@\s]+@[^@\s]+>$/);
      assert.ok(Number(f['Installed-Size']) > 1000, `Installed-Size ${f['Installed-Size']}`);
      const depends = (f.Depends ?? '').split(', ');
      // Node 20 exactly: the addons are built for its ABI (115).
      for (const d of ['nodejs (>= 20.19)', 'nodejs (<< 21)', 'adduser']) assert.ok(depends.includes(d), `Depends lacks ${d}: ${f.Depends}`);
      assert.ok(depends.some((d) => /^libc6 \(>= 2\.\d+\)$/.test(d)), `Depends lacks libc6: ${f.Depends}`);
      assert.ok(depends.some((d) => /^libstdc\+\+6 \(>= \d+\)$/.test(d)), `Depends lacks libstdc++6: ${f.Depends}`);
    });

    test('conffiles and maintainer scripts', async () => {
      const control = join(tree(arch), 'DEBIAN');
      assert.equal(readFileSync(join(control, 'conffiles'), 'utf8'), '/etc/fleetprobe/config.json\n');
      for (const script of ['preinst', 'postinst', 'prerm', 'postrm']) {
        assert.equal(statSync(join(control, script)).mode & 0o777, 0o755, script);
        await run('sh', ['-n', join(control, script)]);
      }
      const postinst = readFileSync(join(control, 'postinst'), 'utf8');
      assert.match(postinst, /adduser --system --group --home \/var\/lib\/fleetprobe --no-create-home/);
      assert.match(postinst, /chown root:fleetprobe "\$1"\n\s*chmod 0640 "\$1"/);
      assert.doesNotMatch(postinst + readFileSync(join(control, 'prerm'), 'utf8') + readFileSync(join(control, 'postrm'), 'utf8'), /#[A-Z_]+_UNITS#/);
      // The units of systemd/ as scripts/deb/units sorts them (tested in units.test.ts).
      const enable = UNITS.filter((u) => u.how === 'enable').map((u) => u.unit).join(' ');
      const other = UNITS.filter((u) => u.how === 'install').map((u) => u.unit).join(' ');
      assert.ok(postinst.includes(`\tfor unit in ${enable}; do\n\t\t# The following line`), 'postinst does not enable the units');
      assert.ok(postinst.includes(`\tfor unit in ${other}; do\n\t\tif deb-systemd-helper debian-installed`), 'postinst does not track the other units');
      // Without a running systemd (a chroot, an image build) nothing is started.
      assert.ok(postinst.includes(`if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then\n\t\tsystemctl --system daemon-reload >/dev/null || true\n\t\tif [ -n "$2" ]; then\n\t\t\t_dh_action=restart`));
      assert.ok(postinst.includes(`deb-systemd-invoke $_dh_action ${enable} >/dev/null || true`));
      assert.ok(readFileSync(join(control, 'prerm'), 'utf8').includes(`[ -d /run/systemd/system ]; then\n\tdeb-systemd-invoke stop ${enable} >/dev/null || true`));
      const postrm = readFileSync(join(control, 'postrm'), 'utf8');
      assert.ok(postrm.includes(`deb-systemd-helper purge ${UNITS.map((u) => u.unit).join(' ')} >/dev/null || true`));
      assert.match(postrm, /"purge"[\s\S]*rm -rf \/var\/lib\/fleetprobe[\s\S]*deluser --system/);
    });

    test('files: layout, modes and owners', async () => {
      const entries = await listing(arch);
      const paths = new Set(entries.map((e) => e.path));
      for (const e of entries) assert.equal(e.owner, 'root/root', `${e.path} is ${e.owner}`);
      const executables = entries.filter((e) => e.mode.startsWith('-') && /x/.test(e.mode)).map((e) => e.path);
      assert.deepEqual(executables, ['usr/bin/fleetprobe']);
      const mode = (p: string): string | undefined => entries.find((e) => e.path === p)?.mode;
      assert.equal(mode('usr/bin/fleetprobe'), '-rwxr-xr-x');
      assert.equal(mode('etc/fleetprobe/config.json'), '-rw-r--r--'); // 0640 root:fleetprobe once postinst ran
      for (const p of [
        'usr/lib/systemd/system/fleetprobe.service',
        'usr/share/doc/fleetprobe/changelog.gz',
        'usr/share/doc/fleetprobe/copyright',
        'usr/share/man/man1/fleetprobe.1.gz',
        'usr/share/lintian/overrides/fleetprobe',
        `${APP}/package.json`,
        `${APP}/dist/agent/bin/fleetprobe.js`,
        `${APP}/dist/agent/main.js`,
        `${APP}/agent/native/build/Release/fleetprobe_native.node`,
        `${APP}/node_modules/better-sqlite3/build/Release/better_sqlite3.node`,
        `${APP}/node_modules/raw-socket/build/Release/raw.node`,
      ]) {
        assert.ok(paths.has(p), `${p} missing`);
      }
      // Every unit of systemd/, as it is there, and no other.
      const shipped = entries.filter((e) => e.path.startsWith('usr/lib/systemd/system/') && !e.mode.startsWith('d')).map((e) => e.path.slice('usr/lib/systemd/system/'.length));
      assert.deepEqual(shipped.sort(), UNITS.map((u) => u.unit).sort());
      for (const { unit } of UNITS) {
        assert.equal(readFileSync(join(tree(arch), 'usr/lib/systemd/system', unit), 'utf8'), readFileSync(join(REPO, 'systemd', unit), 'utf8'), unit);
      }
      const pkg = JSON.parse(readFileSync(join(tree(arch), APP, 'package.json'), 'utf8')) as { version: string; type: string };
      assert.equal(pkg.version, packageVersion());
      assert.equal(pkg.type, 'module');
      // Runtime files only: no sources, tests, build intermediates or build-only packages.
      const forbidden = [
        /^usr\/lib\/fleetprobe\/dist\/(?!agent\/)/,
        /\.(ts|map|c|cc|cpp|h|gyp|gypi|tsbuildinfo)$/,
        /\/(obj\.target|\.deps)\//,
        /\/Makefile$|\.mk$/,
        /\/node_modules\/(nan|prebuild-install|node-gyp|typescript|@types|aedes)\//,
        /\/node_modules\/\.bin\//,
        /\/node_modules\/better-sqlite3\/(deps|src)\//,
        /\/test_extension\.node$/,
        /^usr\/lib\/fleetprobe\/(agent\/(?!native\/build\/Release\/fleetprobe_native\.node)|test\/|bench\/|scripts\/)/,
      ];
      for (const e of entries) {
        if (e.mode.startsWith('d')) continue;
        for (const re of forbidden) assert.doesNotMatch(e.path, re);
      }
    });

    test(`every addon is an ${arch} binary`, async () => {
      const addons = walk(join(tree(arch), APP)).filter((p) => p.endsWith('.node'));
      assert.deepEqual(addons.map((p) => p.slice(p.lastIndexOf('/') + 1)).sort(), ADDONS);
      for (const addon of addons) {
        const { stdout } = await run('file', ['-b', addon]);
        assert.match(stdout, FILE_ARCH[arch], `${relative(tree(arch), addon)}: ${stdout.trim()}`);
        assert.match(stdout, /stripped/);
        assert.doesNotMatch(stdout, /not stripped/);
      }
    });

    test('lintian: no errors, every warning explained', async () => {
      const { stdout } = await run('lintian', ['--tag-display-limit', '0', '--display-level', '>=warning', debs[arch]], { allowFail: true });
      const lines = stdout.split('\n').filter((l) => /^[EW]: /.test(l));
      assert.deepEqual(lines.filter((l) => l.startsWith('E: ')), [], 'lintian errors');
      const readme = readFileSync(join(REPO, 'packaging/README.md'), 'utf8');
      for (const line of lines) {
        const tag = line.split(' ')[2]!;
        assert.ok(readme.includes(`\`${tag}\``), `lintian warning not explained in packaging/README.md: ${line}`);
      }
    });
  });
}

// preinst asks uname(1) for the machine: a stand-in uname says what a Pi 1 or Zero kernel
// would (armv6l). Real ARMv6 cannot be tried here: trixie's armhf userland, dpkg included,
// is ARMv7 code and does not run on an emulated ARMv6 CPU either.
test('preinst refuses an ARMv6 machine with one line, and accepts ARMv7 and arm64', async () => {
  const bin = mkdtempSync(join(tmpdir(), 'fleetprobe-uname-'));
  try {
    const preinst = join(tree('armhf'), 'DEBIAN/preinst');
    for (const [machine, code] of [['armv6l', 1], ['armv7l', 0], ['aarch64', 0]] as const) {
      writeFileSync(join(bin, 'uname'), `#!/bin/sh\necho ${machine}\n`, { mode: 0o755 });
      const r = await run('sh', [preinst, 'install'], { env: { PATH: `${bin}:/usr/bin:/bin` }, allowFail: true });
      assert.equal(r.code, code, `${machine}: ${r.stderr}`);
      if (code === 1) assert.match(r.stderr, /^fleetprobe: this package needs an ARMv7 or newer CPU .* this machine is armv6l .*not supported\n$/);
      else assert.equal(r.stderr, '');
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('every lintian override says why', () => {
  const lines = readFileSync(join(REPO, 'packaging/lintian-overrides'), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    assert.ok(lines[i - 1]?.startsWith('#'), `override without a reason above it: ${line}`);
  });
});

test('copyright is machine-readable and names every bundled npm package', () => {
  const copyright = readFileSync(join(tree('amd64'), 'usr/share/doc/fleetprobe/copyright'), 'utf8');
  assert.match(copyright, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/);
  const app = join(tree('amd64'), APP);
  const packages = walk(join(app, 'node_modules'))
    .filter((p) => p.endsWith('/package.json'))
    .map((p) => relative(app, p.slice(0, -'/package.json'.length)))
    // A package's own folder, not a package.json deeper inside it (e.g. an "exports" helper).
    .filter((p) => /^node_modules\/(@[^/]+\/)?[^/]+(\/node_modules\/(@[^/]+\/)?[^/]+)*$/.test(p));
  assert.ok(packages.length > 30, `only ${packages.length} packages found`);
  for (const p of packages) assert.ok(copyright.includes(`\nFiles: ${p}/*\n`), `copyright lacks ${p}`);
  for (const m of copyright.matchAll(/^License: (.+)$/gm)) assert.doesNotMatch(m[1]!, /^\s*$/);
});

test('changelog is in Debian format, and its top entry is this version', () => {
  const changelog = gunzipSync(readFileSync(join(tree('amd64'), 'usr/share/doc/fleetprobe/changelog.gz'))).toString('utf8');
  assert.match(changelog, new RegExp(`^fleetprobe \\(${packageVersion().replace(/[.+]/g, '\\$&')}\\) \\S+; urgency=\\w+\\n\\n  \\* `));
  assert.match(changelog, /\n -- .+ <.+>  \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\n/);
});

test('the man page covers every command and option of the CLI', () => {
  const roff = gunzipSync(readFileSync(join(tree('amd64'), 'usr/share/man/man1/fleetprobe.1.gz'))).toString('utf8');
  const text = roff.replace(/\\-/g, '-').replace(/\\f[BIRP]/g, '').replace(/^\.(B|I|BR|BI|IR|RB|RI|TP|PP|br)\s*/gm, '');
  assert.match(roff, /^\.TH FLEETPROBE 1 /);
  const commands = USAGE.slice(USAGE.indexOf('Commands:'), USAGE.indexOf('\n\n', USAGE.indexOf('Commands:')))
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/).filter((w, i, ws) => ws.slice(0, i + 1).every((x) => /^[a-z]+$/.test(x))).join(' '));
  assert.ok(commands.includes('outbox export') && commands.includes('probe'), `parsed commands: ${commands.join(', ')}`);
  for (const command of commands) assert.ok(text.includes(command), `man page lacks the command "${command}"`);
  for (const option of new Set([...`${USAGE}\n${PROBE_USAGE}`.matchAll(/(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z0-9])\b/g)].map((m) => m[1]!))) {
    assert.ok(new RegExp(`(^|[^\\w-])${option}([^\\w-]|$)`, 'm').test(text), `man page lacks the option ${option}`);
  }
  assert.ok(existsSync(join(tree('amd64'), 'usr/share/man/man1/fleetprobe.1.gz')));
});
