#!/bin/bash
# Runs INSIDE the booted container (fleetprobe-check.service, after fleetprobe.service):
# checks the installed unit under the real systemd, writes one line per check to
# $OUT/results ("PASS name: detail" / "FAIL name: detail", then DONE), powers off.
set -uo pipefail
OUT=${1:-/fleetprobe-check}
U=fleetprobe.service
CFG=/etc/fleetprobe/config.json
mkdir -p "$OUT"
: > "$OUT/results"
trap 'journalctl -b --no-pager -o short-monotonic > "$OUT/journal" 2>&1; echo DONE >> "$OUT/results"; systemctl poweroff --no-block' EXIT

pass() { echo "PASS $1: $2" >> "$OUT/results"; }
fail() { echo "FAIL $1: $2" >> "$OUT/results"; }
# check NAME DETAIL PREDICATE...: the predicate is a command (often a function below).
check() { local name=$1 detail=$2; shift 2; if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi; }
prop() { systemctl show -p "$1" --value "$U"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# wait_for SECONDS COMMAND...: polls every 0.2 s.
wait_for() { local end=$((SECONDS + $1)); shift; until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.2; done; }
journal() { journalctl -u "$U" --no-pager -o cat "$@"; }
field() { grep -E "^$2:" "/proc/$1/status" | awk '{print $2}'; }
engine_of() { awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null; }
rows() { fleetprobe outbox stats --json 2>/dev/null | sed -n 's/.*"rows":\([0-9]*\).*/\1/p'; }
is_running() { [ "$(prop ActiveState)/$(prop SubState)" = active/running ]; }
is_failed() { [ "$(prop ActiveState)" = failed ]; }
restarted_since() { [ "$(prop NRestarts)" -gt "$1" ]; }
status_has() { prop StatusText | grep -qE "$1"; }
journal_has() { journal | grep -qE "$1"; }
rows_at_least() { [ "$(rows)" -ge "$1" ] 2>/dev/null; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# Under full-system emulation (scripts/test-deb-vm) everything is many times slower: the
# caller's settings file there sets BASIC=1 (sections 1-5 only: the watchdog and stop checks
# time things in seconds) and a longer START_WAIT.
BASIC=0 START_WAIT=60
SETTINGS=/usr/local/lib/fleetprobe-check/settings
if [ -f "$SETTINGS" ]; then . "$SETTINGS"; fi

# 1. Up after boot, READY reached (Type=notify: active only after READY=1), no restarts.
wait_for "$START_WAIT" is_running
check active "$(systemctl show -p ActiveState -p SubState -p NRestarts -p Result "$U" | tr '\n' ' ')" is_running
check no-restarts "NRestarts=$(prop NRestarts)" [ "$(prop NRestarts)" = 0 ]
wait_for $((START_WAIT / 4)) status_has 'results buffered'
STATUS=$(systemctl status "$U" --no-pager 2>&1 | grep -E '^ *Status:' | sed 's/^ *//')
check status-line "$STATUS" grep -qE '^Status: "probing 1 target, [0-9,]+ results? buffered, no uplink' <<< "$STATUS"
# Pings at half of WatchdogSec (30s in the unit: every 15 s; a drop-in may change it).
WD=$(prop WatchdogUSec)
case $WD in *min) HALF=$(( ${WD%min} * 30 )) ;; *s) HALF=$(( ${WD%s} / 2 )) ;; *) HALF="?($WD)" ;; esac
check ready-logged "$(journal | grep -m1 'systemd: ready') (WatchdogSec $WD)" journal_has "^info: systemd: ready; watchdog ping every $HALF s while healthy\$"

# 2. Identity and privileges: the fleetprobe user, CAP_NET_RAW only (bit 13: 0x2000), no
#    new privileges, seccomp on; the same for the engine child.
MAIN=$(prop MainPID)
ENGINE=$(engine_of "$MAIN")
UID_FP=$(id -u fleetprobe)
RAW=0000000000002000
for p in "$MAIN" "$ENGINE"; do
  who=$([ "$p" = "$MAIN" ] && echo main || echo engine)
  ids=$(grep -E '^Uid:' "/proc/$p/status" | awk '{print $2,$3,$4,$5}')
  check "$who-user" "pid $p Uid $ids (fleetprobe is $UID_FP)" [ "$ids" = "$UID_FP $UID_FP $UID_FP $UID_FP" ]
  caps="CapEff=$(field "$p" CapEff) CapPrm=$(field "$p" CapPrm) CapBnd=$(field "$p" CapBnd) CapAmb=$(field "$p" CapAmb)"
  check "$who-caps" "$caps" [ "$caps" = "CapEff=$RAW CapPrm=$RAW CapBnd=$RAW CapAmb=$RAW" ]
  sandbox="NoNewPrivs=$(field "$p" NoNewPrivs) Seccomp=$(field "$p" Seccomp)"
  check "$who-sandbox" "$sandbox" [ "$sandbox" = "NoNewPrivs=1 Seccomp=2" ]
done

# 3. It probes 127.0.0.1 and buffers the results in the state directory.
wait_for $((START_WAIT / 3)) rows_at_least 3
LAST=$(fleetprobe outbox export --ndjson 2>/dev/null | tail -n 1)
last_ok() { rows_at_least 3 && grep -q '"address":"127.0.0.1"' <<< "$LAST" && grep -q '"received":2' <<< "$LAST"; }
check buffering "rows $(rows); last: $(cut -c1-150 <<< "$LAST")..." last_ok
DB=$(stat -c '%U:%G %a' /var/lib/fleetprobe/outbox.db)
check state-dir "outbox.db $DB; /var/lib/fleetprobe $(stat -c '%U:%G %a' /var/lib/fleetprobe)" [ "$DB" = "fleetprobe:fleetprobe 600" ]
check config-perms "$CFG $(stat -c '%U:%G %a' $CFG)" [ "$(stat -c '%U:%G %a' $CFG)" = "root:fleetprobe 640" ]

# 4. Logs: one line per event, priorities from the <N> prefixes, no colour codes.
priorities_ok() {
  [ "$(journal -p warning | grep -c '^info:')" = 0 ] && [ "$(journal -p warning | grep -c '^warn:')" -gt 0 ] && [ "$(journal -p info | grep -c '^info:')" -gt 0 ]
}
check journal-priorities "-p warning: $(journal -p warning | grep -c .) lines, none info; -p info: $(journal -p info | grep -c '^info:') info lines" priorities_ok
check journal-no-colour "no escape sequences in the journal" bash -c "! journalctl -u $U -o cat | grep -q $'\x1b'"

# 5. The unit as systemd 257 reads it: verify prints nothing; the exposure score.
VERIFY=$(systemd-analyze verify "/usr/lib/systemd/system/$U" 2>&1)
check verify-v257 "systemd-analyze verify: ${VERIFY:-no output}" [ -z "$VERIFY" ]
SCORE=$(systemd-analyze security "$U" --no-pager 2>&1 | grep -o 'Overall exposure level.*')
score_ok() { systemd-analyze security "$U" --threshold=20 --no-pager >/dev/null 2>&1; }
check security-v257 "$SCORE (at most 2.0)" score_ok

if [ "$BASIC" = 1 ]; then
  MAIN=$(prop MainPID)
  pass memory "main VmHWM $(field "$MAIN" VmHWM) kB, engine VmHWM $(field "$(engine_of "$MAIN")" VmHWM) kB"
  exit 0
fi

# 6. systemctl stop is graceful and quick: the stop line, exit 0, nothing lost.
BEFORE=$(rows)
T=$(now)
systemctl stop "$U"
TOOK=$(since "$T")
stop_ok() { [ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ] && lt "$TOOK" 5; }
check stop-graceful "systemctl stop took $TOOK s; Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus)" stop_ok
check stop-logged "$(journal | grep 'SIGTERM: stopping' | tail -n 1)" journal_has '^info: SIGTERM: stopping \(rounds in flight are finished and stored\)$'
check stop-kept-results "rows before the stop $BEFORE, after $(rows)" [ "$(rows)" -ge "$BEFORE" ]
systemctl start "$U"
check start-again "$(prop ActiveState)/$(prop SubState)" is_running

# 7. A hung agent (SIGSTOP) sends no pings: the watchdog (WatchdogSec=30s) restarts it.
MAIN=$(prop MainPID)
N0=$(prop NRestarts)
T=$(now)
kill -STOP "$MAIN"
wait_for 90 restarted_since "$N0"
wait_for 30 is_running
watchdog_ok() { restarted_since "$N0" && [ "$(prop MainPID)" != "$MAIN" ] && is_running && journal_has 'Watchdog timeout'; }
check watchdog-sigstop "NRestarts $N0 -> $(prop NRestarts), main pid $MAIN -> $(prop MainPID), running again $(since "$T") s after SIGSTOP; $(journal | grep -m1 -o 'Watchdog timeout.*')" watchdog_ok
# SIGABRT (WatchdogSignal) must kill the agent itself, without waiting for TimeoutAbortSec.
check watchdog-abort "$(journal | grep -c "State 'stop-watchdog' timed out") stop-watchdog timeouts" bash -c "! journalctl -u $U -o cat | grep -q \"State 'stop-watchdog' timed out\""

# 8. A stalled probe loop (engine child stopped) while the agent itself runs: the health
#    check fails, pings stop, the watchdog restarts it.
MAIN=$(prop MainPID)
wait_for 20 rows_at_least 1
ENGINE=$(engine_of "$MAIN")
N0=$(prop NRestarts)
T=$(now)
kill -STOP "$ENGINE"
wait_for 40 status_has '^UNHEALTHY'
UNHEALTHY_AFTER=$(since "$T")
UNHEALTHY_STATUS=$(prop StatusText)
wait_for 90 restarted_since "$N0"
wait_for 30 is_running
health_ok() { restarted_since "$N0" && [ "$(prop MainPID)" != "$MAIN" ] && is_running && journal_has '^error: unhealthy: probe loop stalled'; }
check watchdog-health "STATUS UNHEALTHY $UNHEALTHY_AFTER s after the engine stopped (\"$UNHEALTHY_STATUS\"); NRestarts $N0 -> $(prop NRestarts), running again after $(since "$T") s" health_ok

# 9. A config error exits 78 and is not restarted (RestartPreventExitStatus): no loop.
cp -p "$CFG" "$CFG.good"
echo '{ "probes": "not a list" }' > "$CFG"
systemctl restart "$U"
wait_for 20 is_failed
N0=$(prop NRestarts)
sleep 12 # more than RestartSec: a restart would have happened by now
config_ok() { is_failed && [ "$(prop ExecMainStatus)" = 78 ] && [ "$(prop NRestarts)" = "$N0" ]; }
check config-error-no-loop "$(systemctl show -p ActiveState -p Result -p ExecMainStatus -p NRestarts "$U" | tr '\n' ' ')" config_ok
check config-error-logged "$(journal | grep -m1 'config.json: probes')" journal_has 'config.json: probes: '
mv "$CFG.good" "$CFG"
systemctl reset-failed "$U"
systemctl start "$U"
check recovers "after the config is fixed: $(prop ActiveState)/$(prop SubState)" is_running
policy_ok() { [ "$(prop Restart)" = on-failure ] && grep -qw 78 <<< "$(prop RestartPreventExitStatus)" && ! grep -qw 75 <<< "$(prop RestartPreventExitStatus)"; }
check restart-policy "Restart=$(prop Restart) RestartPreventExitStatus=$(prop RestartPreventExitStatus) (75, the restart command, restarts)" policy_ok

# 10. For the record: memory high-water marks of the agent and its engine.
MAIN=$(prop MainPID)
ENGINE=$(engine_of "$MAIN")
pass memory "main VmHWM $(field "$MAIN" VmHWM) kB, engine VmHWM $(field "$ENGINE" VmHWM) kB"

# 11. More checks the caller installed (scripts/test-systemd --deb: upgrade and purge).
EXTRA=/usr/local/lib/fleetprobe-check/extra-checks.sh
# shellcheck source=deb-checks.sh
if [ -f "$EXTRA" ]; then . "$EXTRA"; fi
