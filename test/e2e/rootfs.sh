#!/usr/bin/env bash
# Builds (once) and caches a minimal bootable Debian rootfs for the e2e as a zstd tarball,
# OUTSIDE the repo: $IP_MASQ_E2E_CACHE (default /var/cache/ip-masq-e2e)/rootfs-<suite>.tar.zst.
#   usage: test/e2e/rootfs.sh SUITE [SUITE...]      (trixie, bookworm)
# Prints the tarball path(s). A cold build takes 35-60 s per suite on 2 cores (debootstrap
# minbase from the Debian mirror in the host's apt sources); a cached one costs nothing.
# Bump ROOTFS_REV when INCLUDE changes so stale caches are rebuilt, not silently reused.
set -Eeuo pipefail

CACHE=${IP_MASQ_E2E_CACHE:-/var/cache/ip-masq-e2e}
ROOTFS_REV=1
# systemd as PID 1 (+ dbus for systemctl/journalctl), the distribution's OWN nodejs and
# nftables (what a user's `apt-get install ./ip-masq.deb` pulls in), iproute2/procps for the
# checks, rpm to exercise the .rpm's scriptlets against the real systemd.
INCLUDE=systemd,systemd-sysv,dbus,nftables,iproute2,nodejs,procps,rpm

# The Debian archive the host's apt already uses (deb822 .sources or sources.list), never a
# security or third-party repository; MIRROR= overrides.
mirror() {
  if [ -n "${MIRROR:-}" ]; then echo "$MIRROR"; return; fi
  local m
  m=$( { awk '/^URIs:/{for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/*.sources
         awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) print $i}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list
       } 2>/dev/null | grep -E '/debian/?$' | head -1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

build_one() {
  local suite=$1; local tarball=$CACHE/rootfs-$suite-r$ROOTFS_REV.tar.zst
  if [ -s "$tarball" ]; then echo "$tarball"; return; fi
  mkdir -p "$CACHE"
  local tmp=$CACHE/build-$suite.$$; local log=$CACHE/debootstrap-$suite.log
  rm -rf "$tmp"
  echo "rootfs: debootstrap $suite (cold, log in $log)" >&2
  local attempt
  for attempt in 1 2; do   # a second try for a mirror hiccup; a real error fails twice
    debootstrap --variant=minbase --include=$INCLUDE "$suite" "$tmp" "$(mirror)" >"$log" 2>&1 && break
    tail -20 "$log" >&2; rm -rf "$tmp"
    [ $attempt = 1 ] || return 1
    echo "rootfs: debootstrap $suite failed, retrying once" >&2
  done
  chroot "$tmp" apt-get clean
  rm -rf "$tmp"/var/lib/apt/lists/*
  echo ip-masq-e2e > "$tmp/etc/hostname"
  # a persistent journal, so the host can copy it out for the CI logs after poweroff
  mkdir -p "$tmp/var/log/journal"
  tar --numeric-owner --xattrs --acls -C "$tmp" -I 'zstd -T0 -3' -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$tmp"
  echo "$tarball"
}

[ $# -gt 0 ] || { echo "usage: $0 SUITE [SUITE...]" >&2; exit 2; }
for s in "$@"; do build_one "$s"; done
