#!/usr/bin/env bash
# Lints the built packages (run `make package` first): lintian on the .deb, rpmlint on the
# .rpm, and the unit's hardening score. Fails on any lintian error or warning and on any
# rpmlint error or warning that is not overridden: every accepted finding carries its reason in
# packaging/deb/lintian-overrides or packaging/rpm/rpmlint.toml.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(node -p 'require("./package.json").version')}
OUT=${OUT:-dist}
DEB=$OUT/ip-masq_${VERSION}_all.deb
RPM=$OUT/ip-masq-$VERSION-1.noarch.rpm
for f in "$DEB" "$RPM"; do [ -s "$f" ] || { echo "lint: $f missing: run 'make package'" >&2; exit 1; }; done
rc=0

echo "== lintian $(lintian --version | awk '{print $2}') $DEB"
# -I/--pedantic show info and pedantic tags too; only E and W fail the build.
out=$(lintian --allow-root --info --pedantic --display-experimental --fail-on none "$DEB" 2>&1 || true)
[ -z "$out" ] || echo "$out"
if grep -qE '^[EW]: ' <<<"$out"; then
  echo "lint: lintian reported errors or warnings (fix them, or override with a reason)"; rc=1
else
  echo "lintian: no errors, no warnings ($(grep -c '^[IPX]: ' <<<"$out" || true) info/pedantic/experimental)"
fi
echo "overridden (reasons in packaging/deb/lintian-overrides):"
grep -v '^#' packaging/deb/lintian-overrides | sed 's/^/  /'

echo "== rpmlint $(rpmlint --version 2>/dev/null | tail -1) $RPM"
out=$(rpmlint -c packaging/rpm/rpmlint.toml "$RPM" 2>&1 || true)
echo "$out" | grep -E ': [EW]: |packages and' || true
if grep -qE ': [EW]: ' <<<"$out"; then
  echo "lint: rpmlint reported errors or warnings (fix them, or filter with a reason)"; rc=1
fi
echo "filtered (reasons in packaging/rpm/rpmlint.toml):"
sed -n "s/^ *'\(.*\)',\$/  \1/p" packaging/rpm/rpmlint.toml

echo "== systemd unit (systemd-analyze $(systemd-analyze --version | head -1 | cut -d' ' -f2), offline)"
score=$(systemd-analyze security --offline=true --no-pager systemd/ip-masq.service 2>/dev/null |
  sed -n 's/.*Overall exposure level for ip-masq.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: ${score:-unknown} (target <= 2.0; the e2e also measures it on a booted systemd)"
if [ -z "$score" ] || awk -v s="$score" 'BEGIN{exit !(s > 2.0)}'; then echo "lint: exposure above 2.0"; rc=1; fi

echo "== sizes"
ls -l "$DEB" "$RPM" | awk '{printf "%8.1f kB  %s\n", $5/1024, $NF}'
exit $rc
