// The installed agent's smoke test, as the unit runs it: user fleetprobe, CAP_NET_RAW as its
// only capability, the shipped config (a loopback probe, no uplink). It runs until a round is
// in the outbox, which proves all three addons load: raw-socket and fleetprobe_native probe,
// better-sqlite3 opens the database (with a wrong ABI, require() works but opening fails).

/** Shell script for inRoot(); prints "run exit N" and the outbox stats as JSON. */
export const AGENT_SMOKE = `
setpriv --reuid fleetprobe --regid fleetprobe --init-groups --inh-caps +net_raw --ambient-caps +net_raw \\
  fleetprobe run --config /etc/fleetprobe/config.json 2>/tmp/agent.log &
pid=$!
i=0
until fleetprobe outbox stats --json 2>/dev/null | grep -q '"rows":[1-9]'; do
  i=$((i + 1))
  if [ $i -gt 240 ] || ! kill -0 $pid 2>/dev/null; then break; fi
  sleep 0.5
done
kill -TERM $pid 2>/dev/null || true
code=0; wait $pid || code=$?
echo "run exit $code"
fleetprobe outbox stats --json
cat /tmp/agent.log >&2
`;

/** The outbox's row count from `fleetprobe outbox stats --json` output (0 when absent). */
export function outboxRows(output: string): number {
  const line = output.split('\n').find((l) => l.startsWith('{') && l.includes('"rows"'));
  return line ? Number((JSON.parse(line) as { rows: number }).rows) : 0;
}

/**
 * Loads the three addons of the installed package directly and uses each once: SQLite opens,
 * writes and reads a file database; raw-socket opens a raw ICMP socket, which
 * fleetprobe_native finds and turns kernel timestamps on for. Prints one JSON line.
 */
export const ADDON_CHECK = `
cd /usr/lib/fleetprobe && node --input-type=module -e '
import { createRequire } from "node:module";
const require = createRequire("/usr/lib/fleetprobe/package.json");
const Database = require("better-sqlite3");
const db = new Database("/tmp/addon-check.db");
db.exec("create table if not exists t (x)");
db.prepare("insert into t values (?)").run(42);
const raw = require("raw-socket");
const socket = raw.createSocket({ protocol: raw.Protocol.ICMP });
const native = require("./agent/native/build/Release/fleetprobe_native.node");
const sockets = native.rawIcmpSockets();
const now = new Float64Array(2);
native.realtime(now);
let timestamps = "on";
try { native.enable(sockets[0][0], 4); } catch (err) { timestamps = err.message; }
console.log(JSON.stringify({ sqlite: db.prepare("select x from t").get().x, raw_sockets: sockets.length, realtime_s: now[0], ntp: native.ntpSynced(), timestamps }));
socket.close();
db.close();
'
`;

export interface AddonCheck {
  sqlite: number;
  raw_sockets: number;
  realtime_s: number;
  ntp: boolean;
  timestamps: string;
}

export function addonCheck(output: string): AddonCheck {
  const line = output.split('\n').find((l) => l.startsWith('{"sqlite"'));
  if (!line) throw new Error(`no addon check result in:\n${output}`);
  return JSON.parse(line) as AddonCheck;
}
