# Sourced by checks.sh INSIDE the booted container, last, when scripts/test-systemd --deb
# installed the package: with systemd running, an upgrade to a newer build (maintainer
# scripts stop and restart the service; the edited conffile and the outbox are kept), then
# purge (service stopped, unit, state, config and user gone). Uses checks.sh's helpers.
DIR=/usr/local/lib/fleetprobe-check
NEW=$DIR/upgrade.deb

# 11a. Upgrade. The config was edited after installation (the test config replaced the shipped
#      one): dpkg must keep it without asking (apt runs non-interactively, as on a fleet).
wait_for 30 is_running
wait_for 20 rows_at_least 1
OLD_PID=$(prop MainPID)
OLD_VERSION=$(dpkg-query -W -f '${Version}' fleetprobe)
NEW_VERSION=$(dpkg-deb -f "$NEW" Version)
CFG_SUM=$(sha256sum "$CFG")
FIRST=$(fleetprobe outbox export --ndjson 2>/dev/null | head -n 1)
STOPS=$(journal | grep -c 'SIGTERM: stopping')
T=$(now)
rc=0
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$NEW" >"$OUT/upgrade.log" 2>&1 || rc=$?
TOOK=$(since "$T")
installed_ok() { [ $rc = 0 ] && [ "$(dpkg-query -W -f '${Version}' fleetprobe)" = "$NEW_VERSION" ] && [ "$(fleetprobe --version)" = "fleetprobe $NEW_VERSION" ]; }
check upgrade-installed "apt-get exit $rc in $TOOK s: $OLD_VERSION -> $(dpkg-query -W -f '${Version}' fleetprobe); $(fleetprobe --version)" installed_ok
wait_for 30 is_running
restarted_ok() { is_running && [ "$(prop MainPID)" != "$OLD_PID" ] && [ "$(journal | grep -c 'SIGTERM: stopping')" -gt "$STOPS" ]; }
check upgrade-restarted "main pid $OLD_PID -> $(prop MainPID), $(prop ActiveState)/$(prop SubState); graceful stops $STOPS -> $(journal | grep -c 'SIGTERM: stopping')" restarted_ok
conf_ok() { [ "$(sha256sum "$CFG")" = "$CFG_SUM" ] && [ "$(stat -c '%U:%G %a' "$CFG")" = "root:fleetprobe 640" ] && ! ls /etc/fleetprobe/config.json.dpkg-* >/dev/null 2>&1; }
check upgrade-kept-conffile "$(stat -c '%U:%G %a' "$CFG"), $( [ "$(sha256sum "$CFG")" = "$CFG_SUM" ] && echo unchanged || echo CHANGED); $(ls /etc/fleetprobe)" conf_ok
wait_for 20 rows_at_least 2
kept_ok() { [ -n "$FIRST" ] && [ "$(fleetprobe outbox export --ndjson 2>/dev/null | head -n 1)" = "$FIRST" ]; }
check upgrade-kept-outbox "oldest result before and after the upgrade: $(cut -c1-100 <<< "$FIRST")...; rows now $(rows)" kept_ok
check upgrade-no-dpkg-prompt "$(grep -c 'Configuration file' "$OUT/upgrade.log") conffile prompts in the apt output" bash -c "! grep -q 'Configuration file' '$OUT/upgrade.log'"

# 11b. Purge: the service is stopped first (prerm), then state, config and user go.
rc=0
DEBIAN_FRONTEND=noninteractive apt-get purge -y fleetprobe >"$OUT/purge.log" 2>&1 || rc=$?
LEFT=$(ls -d /var/lib/fleetprobe /etc/fleetprobe /usr/lib/fleetprobe /usr/bin/fleetprobe /usr/lib/systemd/system/fleetprobe.service /etc/systemd/system/multi-user.target.wants/fleetprobe.service 2>/dev/null | tr '\n' ' ')
purged_ok() { [ $rc = 0 ] && [ -z "$LEFT" ] && ! dpkg-query -W fleetprobe >/dev/null 2>&1; }
check purge-removed "apt-get purge exit $rc; left: ${LEFT:-nothing}" purged_ok
procs() { ps -eo user:20,comm | awk '$1 == "fleetprobe" || $2 == "fleetprobe" || $2 ~ /^node/' | grep -v '^USER' ; }
stopped_ok() { [ -z "$(procs)" ] && [ "$(systemctl show -p LoadState --value fleetprobe.service)" = not-found ]; }
check purge-stopped "processes left: $(procs | tr "\n" ";"); LoadState=$(systemctl show -p LoadState --value fleetprobe.service)" stopped_ok
user_ok() { ! getent passwd fleetprobe >/dev/null && ! getent group fleetprobe >/dev/null; }
check purge-user "$(getent passwd fleetprobe || echo 'no user') / $(getent group fleetprobe || echo 'no group')" user_ok
