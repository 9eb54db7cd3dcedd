# Host-side functions for testing fleetprobe under a real systemd booted with systemd-nspawn.
# Sourced by scripts/test-systemd; a .deb-based test can reuse fp_overlay_up, fp_write_test_config
# and fp_check_root on a root where the package is installed instead of fp_install_without_deb.
# Needs: root, overlayfs, systemd-nspawn and script(1) on the host.

FP_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fp_log() { printf 'test-systemd: %s\n' "$*" >&2; }

# fp_overlay_up BASE WORKDIR: a writable copy-on-write view of BASE (never modified) at
# WORKDIR/root; prints that path.
fp_overlay_up() {
  local base=$1 work=$2
  mkdir -p "$work/upper" "$work/work" "$work/root"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/root"
  printf '%s\n' "$work/root"
}

fp_overlay_down() {
  local work=$1
  if mountpoint -q "$work/root"; then umount "$work/root" || umount -l "$work/root"; fi
  rm -rf "$work"
}

# fp_install_without_deb ROOT SRC: what the package will do, by hand: the built app in
# /usr/lib/fleetprobe, /usr/bin/fleetprobe, the system user, the unit (enabled).
fp_install_without_deb() {
  local root=$1 src=$2 app=$1/usr/lib/fleetprobe
  mkdir -p "$app/agent/native"
  # -H: node_modules may be a symlink (a worktree); copy what it points at.
  cp -aH "$src/dist" "$src/package.json" "$src/node_modules" "$app/"
  cp -a "$src/agent/native/build" "$app/agent/native/"
  rm -rf "$app/dist/test" "$app/dist/bench"
  chmod 0755 "$app/dist/agent/bin/fleetprobe.js"
  ln -sfn ../lib/fleetprobe/dist/agent/bin/fleetprobe.js "$root/usr/bin/fleetprobe"
  chroot "$root" useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fleetprobe
  install -m 0644 "$src/systemd/fleetprobe.service" "$root/usr/lib/systemd/system/fleetprobe.service"
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sfn /usr/lib/systemd/system/fleetprobe.service "$root/etc/systemd/system/multi-user.target.wants/fleetprobe.service"
}

# fp_install_deb ROOT DEB: the package, as a user installs it: apt-get install ./DEB in a
# chroot (no systemd running: postinst creates the user and enables the unit; the boot starts it).
fp_install_deb() {
  local root=$1 deb=$2
  cp "$deb" "$root/tmp/fleetprobe.deb"
  if ! unshare --mount --pid --fork --mount-proc="$root/proc" \
    chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    apt-get install -y --no-install-recommends /tmp/fleetprobe.deb >"$root/tmp/apt-install.log" 2>&1; then
    tail -n 30 "$root/tmp/apt-install.log" >&2
    return 1
  fi
  rm -f "$root/tmp/fleetprobe.deb"
}

# fp_write_test_config ROOT [--content-only]: probe 127.0.0.1 every second, no broker
# (buffering only). --content-only: the file's mode and owner stay as they are (as the
# package's postinst set them: the checks then test the postinst).
fp_write_test_config() {
  local root=$1
  mkdir -p "$root/etc/fleetprobe"
  cat > "$root/etc/fleetprobe/config.json" <<'EOF'
// Written by scripts/systemd-test/lib.sh: loopback only, no uplink.
{ "device": { "id": "pi-systemd-test" },
  "agent_operations": { "probe_interval": 1 },
  "probes": [ { "name": "lo4", "ip_address": "127.0.0.1", "count": 2, "interval_ms": 50, "timeout_ms": 500 } ] }
EOF
  if [ "${2:-}" != --content-only ]; then
    chroot "$root" chown root:fleetprobe /etc/fleetprobe/config.json
    chmod 0640 "$root/etc/fleetprobe/config.json"
  fi
}

# fp_check_root ROOT [TIMEOUT_S]: boots ROOT (fleetprobe installed and configured), runs
# checks.sh inside as a oneshot unit that powers the container off, and prints its results.
# Files the caller put in ROOT/usr/local/lib/fleetprobe-check/ stay there (checks.sh runs
# extra-checks.sh from there last, if present). Returns 0 when every check passed.
fp_check_root() {
  local root=$1 limit=${2:-360} out=$1/fleetprobe-check
  rm -rf "$out"
  mkdir -p "$out" "$root/usr/local/lib/fleetprobe-check" "$root/etc/systemd/system/multi-user.target.wants"
  install -m 0755 "$FP_TEST_DIR/checks.sh" "$root/usr/local/lib/fleetprobe-check/checks.sh"
  cat > "$root/etc/systemd/system/fleetprobe-check.service" <<'EOF'
[Unit]
Description=fleetprobe checks under systemd (scripts/systemd-test)
After=fleetprobe.service

[Service]
Type=oneshot
TimeoutStartSec=10min
ExecStart=/usr/local/lib/fleetprobe-check/checks.sh /fleetprobe-check
StandardOutput=append:/fleetprobe-check/log
StandardError=append:/fleetprobe-check/log

[Install]
WantedBy=multi-user.target
EOF
  ln -sfn /etc/systemd/system/fleetprobe-check.service "$root/etc/systemd/system/multi-user.target.wants/fleetprobe-check.service"
  # Other boot-time test units of the cached root would power off early.
  rm -f "$root/etc/systemd/system/multi-user.target.wants/probe-boot.service"
  local started=$SECONDS rc=0
  # script(1): nspawn wants a terminal; --keep-unit: there is no system bus on this host.
  timeout --kill-after=10 "$limit" script -qfec "systemd-nspawn -D '$root' --boot --register=no --keep-unit --quiet" "$out/console" >/dev/null 2>&1 || rc=$?
  fp_log "container ran $((SECONDS - started)) s (exit $rc)"
  if [ -f "$out/results" ]; then cat "$out/results"; fi
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    fp_log "FAIL: the container did not power off within $limit s; last lines of its log:"
    tail -n 20 "$out/log" >&2 || true
    return 1
  fi
  if ! grep -qx 'DONE' "$out/results" 2>/dev/null; then
    fp_log "FAIL: the checks did not finish; their log:"
    tail -n 40 "$out/log" >&2 || true
    return 1
  fi
  if grep -q '^FAIL' "$out/results"; then return 1; fi
  return 0
}
