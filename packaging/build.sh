#!/usr/bin/env bash
# Builds dist/ip-masq_<version>_all.deb (dpkg-deb) and dist/ip-masq-<version>-1.noarch.rpm
# (rpmbuild) from the bundle dist/ip-masq.js (`make build`). Both ship the same tree:
#   /usr/lib/ip-masq/ip-masq.js(.map)   the bundle (a module, not executable)
#   /usr/bin/ip-masq                     a #!/usr/bin/node launcher that requires it
#   /usr/lib/systemd/system/ip-masq.service
#   /etc/ip-masq/config.yaml             conffile / %config(noreplace)
#   /usr/share/man/man8/ip-masq.8.gz, copyright, changelog
#   /usr/share/doc/ip-masq/README.md and docs/ (the shipped config.yaml points there)
# Knobs (env): VERSION (default: package.json's), OUT (default dist), BUNDLE (default
# dist/ip-masq.js), CONFFILE (default packaging/config.yaml). The e2e uses VERSION/CONFFILE to
# build an "upgrade" package whose default config differs, as a real upgrade's may.
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO"

PKG_VERSION=$(node -p 'require("./package.json").version')
VERSION=${VERSION:-$PKG_VERSION}
OUT=${OUT:-dist}
BUNDLE=${BUNDLE:-dist/ip-masq.js}
CONFFILE=${CONFFILE:-packaging/config.yaml}
NAME=ip-masq

die() { echo "packaging/build.sh: $*" >&2; exit 1; }
[ -s "$BUNDLE" ] || die "$BUNDLE missing: run 'make build' first"
for t in dpkg-deb rpmbuild gzip; do command -v $t >/dev/null || die "$t not found (make system-deps)"; done
[[ $VERSION =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "version '$VERSION' is not usable for both dpkg and rpm"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ip-masq-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# ---- changelog: packaging/changelog is the source (Debian format). Its top entry must be
# this version; an explicit VERSION= override (e2e upgrade builds) gets a generated entry.
CHANGELOG=$WORK/changelog
top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' packaging/changelog)
MAINTAINER=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' packaging/changelog | head -1)
if [ "$top" = "$VERSION" ]; then
  cp packaging/changelog "$CHANGELOG"
elif [ "$VERSION" != "$PKG_VERSION" ]; then
  { printf '%s (%s) unstable; urgency=medium\n\n  * Local rebuild of %s as %s.\n\n -- %s  %s\n\n' \
      "$NAME" "$VERSION" "$top" "$VERSION" "$MAINTAINER" "$(date -R -u)"
    cat packaging/changelog; } > "$CHANGELOG"
else
  die "packaging/changelog's top entry is $top but package.json says $VERSION: add a changelog entry"
fi
# Reproducible timestamps (dpkg-deb, gzip -n, rpmbuild all honour it): the changelog's date.
SOURCE_DATE_EPOCH=$(date -d "$(sed -n 's/^ -- .*>  //p' "$CHANGELOG" | head -1)" +%s)
export SOURCE_DATE_EPOCH
DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)

# ---- the common tree
stage() { # stage DIR DOCDIR
  local D=$1 DOC=$2
  install -d -m755 "$D/usr/lib/$NAME" "$D/usr/bin" "$D/usr/lib/systemd/system" "$D/etc/$NAME" \
    "$D/usr/share/man/man8" "$D$DOC"
  # The bundle is a library for the launcher, not a command: no exec bit, and its shebang line
  # becomes a comment (same line count, so the source map's line numbers stay right).
  head -1 "$BUNDLE" | grep -q '^#!' || die "$BUNDLE has no shebang line to replace"
  { echo '// ip-masq bundle: run it as /usr/bin/ip-masq'; tail -n +2 "$BUNDLE"; } > "$D/usr/lib/$NAME/$NAME.js"
  chmod 644 "$D/usr/lib/$NAME/$NAME.js"
  if [ -s "$BUNDLE.map" ]; then install -m644 "$BUNDLE.map" "$D/usr/lib/$NAME/$NAME.js.map"; fi
  # Distribution packages name their interpreter: /usr/bin/node is nodejs's path on Debian,
  # Ubuntu, Fedora and RHEL alike (`env node` would pick up whatever node is first in PATH).
  install -m755 packaging/ip-masq.launcher "$D/usr/bin/$NAME"
  install -m644 systemd/ip-masq.service "$D/usr/lib/systemd/system/ip-masq.service"
  install -m644 "$CONFFILE" "$D/etc/$NAME/config.yaml"
  sed -e "s/@VERSION@/$VERSION/g" -e "s/@DATE@/$DATE/g" packaging/ip-masq.8 | gzip -9n > "$D/usr/share/man/man8/ip-masq.8.gz"
  install -m644 "$WORK/copyright" "$D$DOC/copyright"
  # README and docs/ with their relative links intact (README.md → docs/metrics.md): the shipped
  # config.yaml points here for the unit drop-ins metrics need.
  install -d -m755 "$D/usr/share/doc/$NAME/docs/bench"
  install -m644 README.md "$D/usr/share/doc/$NAME/README.md"
  install -m644 docs/*.md "$D/usr/share/doc/$NAME/docs/"
  install -m644 docs/bench/*.svg "$D/usr/share/doc/$NAME/docs/bench/"
}

# copyright: ours + one paragraph per npm package the bundle contains (read from its map)
[ -s "$BUNDLE.map" ] || die "$BUNDLE.map missing: the third-party list is read from it"
{ cat packaging/copyright.in; echo; node packaging/third-party.mjs "$BUNDLE.map"; } > "$WORK/copyright"

# ---- .deb
DEB=$WORK/deb
install -d -m755 "$DEB" "$DEB/DEBIAN"
stage "$DEB" /usr/share/doc/$NAME
gzip -9nc "$CHANGELOG" > "$DEB/usr/share/doc/$NAME/changelog.gz"   # native version: changelog.gz
install -D -m644 packaging/deb/lintian-overrides "$DEB/usr/share/lintian/overrides/$NAME"
installed_kb=$(du -sk --exclude=DEBIAN "$DEB" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@MAINTAINER@/$MAINTAINER/" -e "s/@INSTALLED_SIZE@/$installed_kb/" \
  packaging/deb/control.in > "$DEB/DEBIAN/control"
install -m644 packaging/deb/conffiles "$DEB/DEBIAN/conffiles"
install -m755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$DEB/DEBIAN/"
(cd "$DEB" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$DEB/DEBIAN/md5sums"
chmod 644 "$DEB/DEBIAN/md5sums"
DEB_FILE=$OUT/${NAME}_${VERSION}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$DEB" "$DEB_FILE" >/dev/null

# ---- .rpm (same tree; licence under /usr/share/licenses, changelog as %changelog)
RPM=$WORK/rpmstage
install -d -m755 "$RPM"
stage "$RPM" /usr/share/licenses/$NAME
# Debian changelog → rpm %changelog ("* Mon Nov 30 2026 Name <mail> - 0.1.0-1" + "- item")
awk -v rel=1 '
  /^[a-z0-9][^ ]* \(/ { v = $2; gsub(/[()]/, "", v); n = 0; delete items; next }
  /^  \* / { items[++n] = "- " substr($0, 5); next }
  /^    / { items[n] = items[n] " " substr($0, 5); next }
  /^ -- / { sub(/^ -- /, ""); split($0, a, ">  "); who = a[1] ">"
            cmd = "date -u -d \"" a[2] "\" \"+%a %b %d %Y\""; cmd | getline d; close(cmd)
            print "* " d " " who " - " v "-" rel; for (i = 1; i <= n; i++) print items[i]; print "" }
' "$CHANGELOG" > "$WORK/rpm-changelog"
rpmbuild -bb --quiet \
  --define "_topdir $WORK/rpmtop" --define "pkgver $VERSION" --define "stage $RPM" \
  --define "changelog_file $WORK/rpm-changelog" --define "packager $MAINTAINER" --define "_buildhost ip-masq-build" \
  --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
  packaging/rpm/ip-masq.spec >"$WORK/rpmbuild.log" 2>&1 || { cat "$WORK/rpmbuild.log" >&2; die "rpmbuild failed"; }
RPM_FILE=$OUT/$NAME-$VERSION-1.noarch.rpm
cp "$WORK/rpmtop/RPMS/noarch/$NAME-$VERSION-1.noarch.rpm" "$RPM_FILE"

printf '%s %s\n' "$(stat -c %s "$DEB_FILE")" "$DEB_FILE" "$(stat -c %s "$RPM_FILE")" "$RPM_FILE" |
  awk '{ printf "built %s (%.0f kB)\n", $2, $1 / 1024 }'
