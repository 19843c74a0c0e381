#!/usr/bin/env bash
# Installs the system tools ip-masq's tests, demo, packages and e2e drive for real.
# Idempotent and quick when everything is already there.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have nft || need+=(nftables)
have iptables || need+=(iptables)
have ip || need+=(iproute2)
have unshare || need+=(util-linux)
have dpkg-deb || need+=(dpkg)
have rpmbuild || need+=(rpm)
have lintian || need+=(lintian)
have rpmlint || need+=(rpmlint)
have debootstrap || need+=(debootstrap)
have systemd-nspawn || need+=(systemd-container)
have zstd || need+=(zstd)
have hping3 || need+=(hping3)
have conntrack || need+=(conntrack)
have systemd-analyze || need+=(systemd)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; run as root (or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
