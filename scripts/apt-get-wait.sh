#!/usr/bin/env bash
# apt-get, but waiting for the package lock when another apt-get or dpkg holds it, instead of
# failing at once. Usage: scripts/apt-get-wait.sh <apt-get arguments...>
# FJORD_APT_LOCK_WAIT: seconds to wait in all (default 600).
#
# apt-get install waits by itself with -o DPkg::Lock::Timeout; apt-get update does not (the
# lists lock), so a run that fails on a held lock is retried until the time is up.
set -uo pipefail
wait_s=${FJORD_APT_LOCK_WAIT:-600}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
deadline=$(( $(date +%s) + wait_s ))
said=""
err=$(mktemp); trap 'rm -f "$err"' EXIT
while :; do
  left=$(( deadline - $(date +%s) )); [ "$left" -lt 0 ] && left=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout="$left" "$@" 2>"$err"
  rc=$?
  if [ "$rc" -eq 0 ] || ! grep -qE "Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock" "$err"; then
    cat "$err" >&2
    exit "$rc"
  fi
  holder=$(grep -oE "held by process [0-9]+( \([^)]*\))?" "$err" | head -n1)
  if [ "$left" -le 0 ]; then
    echo "apt-get-wait: gave up after ${wait_s}s: the package lock is still ${holder:-held by another apt-get or dpkg}. Let it finish (or stop it), then run this again." >&2
    cat "$err" >&2
    exit "$rc"
  fi
  if [ -z "$said" ]; then
    echo "apt-get-wait: the package lock is ${holder:-held by another apt-get or dpkg}; waiting up to ${left}s for it (FJORD_APT_LOCK_WAIT)" >&2
    said=1
  fi
  sleep 1
done
