#!/usr/bin/env bash
# ip-masq end to end on a booted systemd: the user's whole workflow, for real.
#
# For each Debian release (trixie: nodejs 20.19, bookworm: nodejs 18.20, each its OWN nodejs)
# it boots a minimal rootfs with systemd-nspawn as PID 1 inside a network namespace that plays
# the Kubernetes node, wired to a "pod", a "VPC" host and an "outside" host (namespaces this
# script creates), then: dpkg -i, systemctl enable --now, real TCP/UDP packets masqueraded or
# not as configured, config edits applied with no systemctl call, a failing reload on a bad
# file with the rules kept, the journal, a reboot (rules back before kubelet may start), an
# upgrade over an edited conffile, remove, purge; then the .rpm's install/upgrade/erase with
# its scriptlets against the same real systemd.
#
# Needs root, the host's node (test client/server), `make package` output in dist/, and
# debootstrap systemd-container rpm zstd (make system-deps). Prints one line per check and
# ends with "N passed, N failed"; exits non-zero on any failure. Never touches the host's
# ruleset (checked), cleans up containers, namespaces and processes on exit, and copies the
# containers' journals to dist/e2e-logs/.
# Knobs: E2E_SUITES="trixie bookworm"  IP_MASQ_E2E_CACHE=/var/cache/ip-masq-e2e (rootfs
# tarballs)  KEEP=1 (keep the work dir)  DIST=dist (packages in, e2e-logs out)  MIRROR=<url>
set -Eeuo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO"

SUITES=${E2E_SUITES:-trixie bookworm}
DIST=${DIST:-dist}
LOGS=$DIST/e2e-logs
VERSION=$(node -p 'require("./package.json").version')
UP_VERSION=$VERSION+e2e1               # the "next release" the upgrade checks install
HOST_NODE=$(readlink -f "$(command -v node)")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ip-masq-e2e.XXXXXX")
PKGS=$WORK/pkgs
NS_POD=ipm-e2e-pod NS_NODE=ipm-e2e-node NS_EXT=ipm-e2e-ext NS_VPC=ipm-e2e-vpc
POD_IP=10.244.1.2 NODE_POD_IP=10.244.1.1
EXT_IP=203.0.113.2 NODE_EXT_IP=203.0.113.1    # "the internet": masqueraded by default
VPC_IP=198.51.100.2 NODE_VPC_IP=198.51.100.1  # a VPC host: keeps the pod's source IP
CONF=/etc/ip-masq/config.yaml

exec 3>&1   # check results go to fd 3, so a step's own redirections cannot hide them
PASS=0 FAIL=0 EXPOSURE=() NSPAWN_PID= LEADER= MACHINE= ROOT= SERVER_PIDS=() TIMES=()
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
ok()  { PASS=$((PASS + 1)); echo "ok   - ${SUITE:-host}: $*" >&3; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - ${SUITE:-host}: $*" >&3; }
# check DESCRIPTION cmd...: one result line; a failure also shows the command's last output
check() {
  local d=$1 out rc=0; shift
  out=$("$@" 2>&1 </dev/null) || rc=$?
  if [ $rc = 0 ]; then ok "$d"; else bad "$d (exit $rc)"; [ -z "$out" ] || tail -n 5 <<<"$out" | sed 's/^/       | /' >&3; fi
}
note() { echo "     ${SUITE:-host}: $*" >&3; }
# eventually SECONDS cmd...: polls until cmd succeeds (the daemon reacts asynchronously)
eventually() {
  local end=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@" >/dev/null 2>&1; do [ "$(now_ms)" -lt "$end" ] || return 1; sleep 0.02; done
}

# run a command inside the booted container, as an admin's root shell would
cx() { nsenter -t "$LEADER" -a -- /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
cxq() { cx "$@" </dev/null >/dev/null 2>&1; }
# tx cmd...: run in the container as the user would, recording "$ cmd" and its output in the
# suite's transcript (dist/e2e-logs/<suite>-transcript.txt: what docs/install.md quotes)
tx() {
  local rc=0
  printf '\n$ %s\n' "$*" >>"$TX"
  cx "$@" </dev/null >>"$TX" 2>&1 || rc=$?
  [ $rc = 0 ] || echo "(exit status $rc)" >>"$TX"
  return $rc
}
not() { ! "$@"; }
put() { cx sh -c "cat > '$1.tmp' && mv '$1.tmp' '$1'"; }   # write stdin to a file like editors do (rename)

cleanup() {
  set +e
  local p
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  stop_container
  for p in $NS_POD $NS_NODE $NS_EXT $NS_VPC; do ip netns del "$p" 2>/dev/null; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ packages
make_packages() {
  mkdir -p "$PKGS"
  local deb=$DIST/ip-masq_${VERSION}_all.deb rpm=$DIST/ip-masq-$VERSION-1.noarch.rpm
  [ -s "$deb" ] && [ -s "$rpm" ] || { echo "e2e: $deb / $rpm missing: run 'make package'" >&2; exit 2; }
  cp "$deb" "$rpm" "$PKGS/"
  # the next release: same code, a changed default config (so an edited conffile conflicts)
  { cat packaging/config.yaml; echo "# (the next release's default: one more comment line)"; } > "$WORK/config-next.yaml"
  VERSION=$UP_VERSION CONFFILE=$WORK/config-next.yaml OUT=$PKGS bash packaging/build.sh >/dev/null
}

# ------------------------------------------------------------------ network
# pod ── node (the container's netns) ── ext (203.0.113.2, outside)
#                                    └── vpc (198.51.100.2, a VPC host)
make_network() {
  local n
  for n in $NS_POD $NS_NODE $NS_EXT $NS_VPC; do ip netns del $n 2>/dev/null || true; ip netns add $n; ip -n $n link set lo up; done
  ip link add pod0 netns $NS_POD type veth peer name node-pod netns $NS_NODE
  ip link add ext0 netns $NS_EXT type veth peer name node-ext netns $NS_NODE
  ip link add vpc0 netns $NS_VPC type veth peer name node-vpc netns $NS_NODE
  ip -n $NS_POD addr add $POD_IP/24 dev pod0
  ip -n $NS_NODE addr add $NODE_POD_IP/24 dev node-pod
  ip -n $NS_NODE addr add $NODE_EXT_IP/24 dev node-ext
  ip -n $NS_NODE addr add $NODE_VPC_IP/24 dev node-vpc
  ip -n $NS_EXT addr add $EXT_IP/24 dev ext0
  ip -n $NS_VPC addr add $VPC_IP/24 dev vpc0
  for n in "$NS_POD pod0" "$NS_NODE node-pod" "$NS_NODE node-ext" "$NS_NODE node-vpc" "$NS_EXT ext0" "$NS_VPC vpc0"; do
    set -- $n; ip -n "$1" link set "$2" up
  done
  ip -n $NS_POD route add default via $NODE_POD_IP
  # replies to a pod's own (un-masqueraded) address must find their way back too
  ip -n $NS_EXT route add 10.244.0.0/16 via $NODE_EXT_IP
  ip -n $NS_VPC route add 10.244.0.0/16 via $NODE_VPC_IP
  ip netns exec $NS_NODE sysctl -qw net.ipv4.ip_forward=1   # /proc/sys is read-only in nspawn
  ip netns exec $NS_EXT "$HOST_NODE" "$HERE/peer.cjs" serve $EXT_IP & SERVER_PIDS+=($!)
  ip netns exec $NS_VPC "$HOST_NODE" "$HERE/peer.cjs" serve $VPC_IP & SERVER_PIDS+=($!)
  eventually 5 ip netns exec $NS_EXT sh -c "ss -Hltn | grep -q ':8080'"
  eventually 5 ip netns exec $NS_VPC sh -c "ss -Hltn | grep -q ':8080'"
}
# seen tcp|udp DEST: the source address DEST saw for a new flow from the pod
seen() { ip netns exec $NS_POD "$HOST_NODE" "$HERE/peer.cjs" probe "$1" "$2" 2>/dev/null || true; }
expect_seen() { # expect_seen DESCRIPTION PROTO DEST WANT
  local got; got=$(seen "$2" "$3")
  if [ "$got" = "$4" ]; then ok "$1"; else bad "$1 (saw '$got', want $4)"; fi
}

# ------------------------------------------------------------------ container
start_container() {
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid systemd-nspawn -b -D "$ROOT" -M "$MACHINE" \
    --register=no --keep-unit --console=passive \
    --private-network --network-namespace-path=/run/netns/$NS_NODE \
    --bind-ro="$PKGS:/pkgs" >>"$WORK/nspawn-$SUITE.log" 2>&1 &
  NSPAWN_PID=$!
  local i st=
  LEADER=
  for i in $(seq 300); do
    LEADER=$(pgrep -P "$NSPAWN_PID" | head -1 || true)
    [ -n "$LEADER" ] && [ "$(cat /proc/"$LEADER"/comm 2>/dev/null)" = systemd ] && break
    sleep 0.05
  done
  # is-system-running --wait fails at once while PID 1 has not opened its socket yet: poll
  for i in $(seq 600); do
    st=$(cx systemctl is-system-running 2>/dev/null || true)
    case $st in running|degraded) return 0;; esac
    sleep 0.1
  done
  return 1
}
wait_nspawn_exit() {
  local i
  for i in $(seq 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$NSPAWN_PID" 2>/dev/null || true
  wait "$NSPAWN_PID" 2>/dev/null || true
  # a hung container's PID 1 survives its nspawn; SIGKILL from outside ends its pid namespace
  if [ -n "$LEADER" ] && [ "$(cat /proc/"$LEADER"/comm 2>/dev/null)" = systemd ]; then kill -KILL "$LEADER" 2>/dev/null || true; fi
  NSPAWN_PID= LEADER=
  rmdir "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null || true   # /run is not tmpfs here
}
stop_container() {
  [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null || return 0
  kill -TERM "$NSPAWN_PID"   # nspawn -b turns SIGTERM into an orderly poweroff
  wait_nspawn_exit
}
save_journal() {
  mkdir -p "$LOGS"
  cx journalctl --no-pager -o short-precise >"$LOGS/$SUITE-journal.txt" 2>&1 || true
  cx journalctl --no-pager -o short-precise -u ip-masq -u 'ip-masq-*' >"$LOGS/$SUITE-ip-masq.txt" 2>&1 || true
}

# ------------------------------------------------------------------ container-side helpers
table() { cx nft -s list table ip ip-masq 2>/dev/null; }   # -s: without counters, comparable
# table_has STRING: our table is listed and contains STRING. A listing that fails for any
# reason other than "no such table" (a dump interrupted by a concurrent change) is retried.
# The daemon's nft session (nft/session.ts): a live `nft -j -i` in the container.
session_up() {
  local cmdlines # captured first: grep -q quitting early would SIGPIPE the writer (pipefail)
  cmdlines=$(cx sh -c 'for c in /proc/[0-9]*/cmdline; do tr "\0" " " <"$c"; echo; done' 2>/dev/null)
  grep -qx '/usr/sbin/nft -j -i ' <<<"$cmdlines"
}

table_has() {
  local t i
  for i in 1 2 3; do
    if t=$(cx nft list table ip ip-masq 2>&1); then grep -qF -- "$1" <<<"$t" && return 0; break; fi
    grep -q 'No such file or directory' <<<"$t" && break
    sleep 0.1
  done
  echo "$t"; return 1
}
no_table() { ! cx nft list table ip ip-masq >/dev/null 2>&1; }
main_pid() { cx systemctl show -P MainPID ip-masq; }
journal() { cx journalctl -u ip-masq --no-pager -o cat "$@"; }
audit_events() { journal IP_MASQ_EVENT=applied | grep -c . || true; }
write_config() { # write_config MARKER CIDR...
  { echo "# $1"; echo "nonMasqueradeCIDRs:"; printf '  - %s\n' "${@:2}"; } | put $CONF
}

# ------------------------------------------------------------------ journal (issue 14)
# Under journald each event is one sentence in MESSAGE with its data in native fields
# (daemon/src/daemon/journal-entry.ts), sent through `logger --journald` from the unit's cgroup.
test_journal_fields() {
  tx journalctl -u ip-masq IP_MASQ_EVENT=applied --no-pager -o cat -n 3
  check "journal: the edit's entry is found by its field (IP_MASQ_CIDRS_ADDED=203.0.113.0/24)" \
    sh -c "nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied IP_MASQ_CIDRS_ADDED=203.0.113.0/24 -o cat --no-pager | grep -q '^applied: +[0-9]* −[0-9]* CIDRs .*203.0.113.0/24.*, generation [0-9]*, [0-9]* ms'"
  check "journal: applied entries carry MESSAGE_ID, PRIORITY=6 and IP_MASQ_GENERATION" \
    sh -c "nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied -n 1 -o verbose --no-pager | grep -q 'MESSAGE_ID=245d101024484696bb8dee3b91b62691' && nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied -n 1 -o verbose --no-pager | grep -q 'PRIORITY=6' && nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied -n 1 -o verbose --no-pager | grep -q 'IP_MASQ_GENERATION='"
  check "journal: no pino JSON blob in journalctl -u ip-masq -o cat" \
    sh -c "! nsenter -t $LEADER -a journalctl -u ip-masq -o cat --no-pager | grep -q '^{\"level\"'"
  check "journal: every applied entry is filed under the unit (same count with and without -u)" \
    sh -c "[ \$(nsenter -t $LEADER -a journalctl IP_MASQ_EVENT=applied -o cat --no-pager | grep -c .) = \$(nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied -o cat --no-pager | grep -c .) ]"
}

# ------------------------------------------------------------------ scenarios
test_boot() {
  check "systemd is PID 1, system state 'running'" test "$(cx systemctl is-system-running)" = running
  local nodev; nodev=$(cx node -v 2>/dev/null || echo none)
  note "$(cx sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), systemd $(cx systemctl --version | awk 'NR==1{print $2}'), distribution nodejs $nodev, nftables $(cx nft -v | awk '{print $2}')"
  check "distribution nodejs $nodev satisfies Depends: nodejs (>= 18.19)" \
    cx dpkg --compare-versions "$(cx dpkg-query -W -f '${Version}' nodejs)" ge 18.19
  # what kubelet would be: started after ip-masq reports READY (ip-masq has Before=kubelet)
  cx mkdir -p /etc/systemd/system /run/flannel /etc/cni/net.d
  cx sh -c 'cat > /etc/systemd/system/kubelet.service' <<'EOF'
[Unit]
Description=stand-in kubelet: records whether ip-masq's rules exist when it starts
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'nft list table ip ip-masq > /run/kubelet-saw 2>&1; echo "rc=$?" >> /run/kubelet-saw'
[Install]
WantedBy=multi-user.target
EOF
  # flannel's lease file and CNI config, as flanneld and its DaemonSet write them
  printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' | put /run/flannel/subnet.env
  printf '{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"hairpinMode":true,"isDefaultGateway":true,"ipMasq":false}},{"type":"portmap","capabilities":{"portMappings":true}}]}\n' | put /etc/cni/net.d/10-flannel.conflist
  cxq systemctl enable kubelet.service
}

test_deb() {
  local t; t=$(now_ms)
  check "deb: dpkg -i ip-masq_${VERSION}_all.deb" tx dpkg -i /pkgs/ip-masq_${VERSION}_all.deb
  TIMES+=("$SUITE dpkg -i: $(( $(now_ms) - t )) ms")
  check "deb: installed but not enabled" test "$(cx systemctl is-enabled ip-masq 2>/dev/null)" = disabled
  check "deb: installed but not started, no table" sh -c "! nsenter -t $LEADER -a systemctl -q is-active ip-masq && ! nsenter -t $LEADER -a nft list table ip ip-masq"
  check "deb: reinstall while stopped (postinst try-restart) does not start it" sh -c \
    "nsenter -t $LEADER -a dpkg -i /pkgs/ip-masq_${VERSION}_all.deb && ! nsenter -t $LEADER -a systemctl -q is-active ip-masq"
  check "deb: ip-masq --version runs on the distribution's node" cx ip-masq --version
  local out; out=$(cx systemd-analyze verify --man=no ip-masq.service 2>&1)
  check "deb: systemd-analyze verify ip-masq.service: clean" test -z "$out"
  [ -z "$out" ] || note "verify: $out"
  check "deb: man ip-masq(8) shipped" cx test -s /usr/share/man/man8/ip-masq.8.gz
  local score
  score=$(cx systemd-analyze security --no-pager ip-masq.service 2>/dev/null | sed -n 's/.*Overall exposure level for ip-masq.service: \([0-9.]*\).*/\1/p')
  EXPOSURE+=("$SUITE: $score")
  check "deb: systemd-analyze security exposure ${score:-?} <= 2.0" awk -v s="${score:-99}" 'BEGIN{exit !(s <= 2.0)}'

  check "deb: the shipped /etc/ip-masq/config.yaml is valid (all defaults)" tx ip-masq check
  write_config "e2e: initial" 10.0.0.0/8 198.51.100.0/24
  t=$(now_ms)
  check "deb: ip-masq check accepts the config" tx ip-masq check
  check "deb: systemctl enable --now ip-masq (returns after READY)" tx systemctl enable --now ip-masq
  TIMES+=("$SUITE enable --now (start to READY): $(( $(now_ms) - t )) ms")
  check "deb: active" cx systemctl is-active ip-masq
  check "deb: table ip ip-masq present the moment enable --now returned" table_has 198.51.100.0/24
  check "deb: flannel lease read (cluster network 10.244.0.0/16 in our table)" table_has 10.244.0.0/16
  local pid; pid=$(main_pid)
  check "deb: daemon runs as a DynamicUser (non-root) with CapEff = CAP_NET_ADMIN only, NoNewPrivs" cx sh -c \
    "grep -Eq '^Uid:\s+[1-9]' /proc/$pid/status && grep -q '^CapEff:\s*0000000000001000' /proc/$pid/status && grep -Eq '^NoNewPrivs:\s+1' /proc/$pid/status"
  check "deb: StateDirectory written by the daemon (/var/lib/ip-masq not empty)" cx sh -c 'test -n "$(ls -A /var/lib/private/ip-masq)"'
  check "deb: the unit's identity can read /run/flannel and /etc/cni/net.d" cx systemd-run --quiet --wait --pipe \
    -p DynamicUser=yes -p ProtectSystem=strict -p ProtectHome=yes -p PrivateTmp=yes \
    cat /run/flannel/subnet.env /etc/cni/net.d/10-flannel.conflist
  check "deb: STATUS= set via systemd-notify" test -n "$(cx systemctl show -P StatusText ip-masq)"
  tx systemctl status ip-masq --no-pager --lines=3
  tx nft list table ip ip-masq
  check "deb: ip-masq status (as root): table present and matching the config" tx ip-masq status

  expect_seen "traffic: pod -> VPC (in nonMasqueradeCIDRs) keeps the pod IP, TCP" tcp $VPC_IP $POD_IP
  expect_seen "traffic: pod -> VPC keeps the pod IP, UDP" udp $VPC_IP $POD_IP
  expect_seen "traffic: pod -> outside is masqueraded to the node IP, TCP" tcp $EXT_IP $NODE_EXT_IP
  expect_seen "traffic: pod -> outside is masqueraded to the node IP, UDP" udp $EXT_IP $NODE_EXT_IP

  # edit → live, no systemctl anywhere
  local n0; n0=$(audit_events)
  t=$(now_ms)
  write_config "e2e: edited, no systemctl" 10.0.0.0/8 198.51.100.0/24 203.0.113.0/24
  check "deb: edit applied with no systemctl call (203.0.113.0/24 in the table)" eventually 5 table_has 203.0.113.0/24
  TIMES+=("$SUITE config edit -> rules live (incl. 20 ms polling): $(( $(now_ms) - t )) ms")
  expect_seen "traffic: after the edit, pod -> outside keeps the pod IP, TCP" tcp $EXT_IP $POD_IP
  expect_seen "traffic: after the edit, pod -> outside keeps the pod IP, UDP" udp $EXT_IP $POD_IP
  # this time in place (same inode, as `vi` with backupcopy or `cat >` do), not by rename
  { echo "# e2e: VPC removed, written in place"; echo "nonMasqueradeCIDRs: [10.0.0.0/8, 203.0.113.0/24]"; } | cx sh -c "cat > $CONF"
  check "deb: second edit (in place) applied (198.51.100.0/24 gone)" eventually 5 sh -c "! nsenter -t $LEADER -a nft list table ip ip-masq | grep -qF 198.51.100.0/24"
  expect_seen "traffic: after the second edit, pod -> VPC is masqueraded, TCP" tcp $VPC_IP $NODE_VPC_IP
  check "deb: journalctl -u ip-masq IP_MASQ_EVENT=applied: one audit event per change (>= 2 more)" eventually 5 \
    sh -c "[ \$(nsenter -t $LEADER -a journalctl -u ip-masq IP_MASQ_EVENT=applied -o cat --no-pager | grep -c .) -ge $((n0 + 2)) ]"
  test_journal_fields

  # a bad file: reload fails loudly, rules stay, journal -p err names file:line:col
  local before; before=$(table)
  printf '# e2e: invalid on purpose: line 4, column 5\nnonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.1.2.3/8\n' | put $CONF
  tx ip-masq check
  check "deb: systemctl reload with a bad file fails" not tx systemctl reload ip-masq
  check "deb: still active after the failed reload" cx systemctl is-active ip-masq
  sleep 0.3
  check "deb: rules unchanged by the bad file" test "$(table)" = "$before"
  expect_seen "traffic: still as before the bad file, TCP" tcp $EXT_IP $POD_IP
  check "deb: journalctl -u ip-masq -p err finds config.yaml:4:5" eventually 5 \
    sh -c "nsenter -t $LEADER -a journalctl -u ip-masq -p err -o cat --no-pager | grep -q 'config.yaml:4:5'"
  tx journalctl -u ip-masq -p err --no-pager -o cat -n 3
  write_config "e2e: good again" 10.0.0.0/8 198.51.100.0/24
  check "deb: good file after a bad one: applied" eventually 5 table_has 198.51.100.0/24
  check "deb: systemctl reload with a good file succeeds" tx systemctl reload ip-masq
  tx journalctl -u ip-masq --no-pager -o cat -n 4

  # Debian's nftables.service runs `flush ruleset` (start, reload and stop): the daemon must
  # put its table back by itself, and at boot it must run after it (After=nftables.service)
  check "drift: systemctl start nftables (flush ruleset) -> table restored by the daemon" \
    sh -c "nsenter -t $LEADER -a systemctl start nftables && nsenter -t $LEADER -a nft list tables >/dev/null"
  check "drift: restored" eventually 5 table_has 198.51.100.0/24
  # The heal's listings went to the daemon's nft session, which outlives a pass by 10 s; one
  # that failed would have been closed at once (and bypassed after three failures).
  check "drift: the heal's listings went to one long-lived nft -j -i (still up after it)" session_up
  test_watchdog
  cxq systemctl enable nftables
  # reboot: a real reboot starts with an empty kernel ruleset; our netns outlives the
  # container, so empty it in between (only the node namespace this script created)
  cxq systemctl reboot
  wait_nspawn_exit
  ip netns exec $NS_NODE nft flush ruleset
  t=$(now_ms)
  # not through check: start_container sets LEADER/NSPAWN_PID, which a subshell would lose
  if start_container; then ok "reboot: container booted again"; else bad "reboot: container booted again"; fi
  TIMES+=("$SUITE reboot -> system running: $(( $(now_ms) - t )) ms")
  check "reboot: ip-masq active again (enabled at boot)" cx systemctl is-active ip-masq
  check "reboot: rules back from the config, nftables.service (enabled, flush ruleset) ran first" sh -c \
    "[ \"\$(nsenter -t $LEADER -a systemctl is-active nftables)\" = active ]"
  check "reboot: rules present after boot" table_has 198.51.100.0/24
  test_boot_order
  check "reboot: rules were there before the unit reported READY (kubelet, ordered after it, saw them)" \
    cx sh -c 'grep -q "rc=0" /run/kubelet-saw && grep -qF 198.51.100.0/24 /run/kubelet-saw'
  expect_seen "traffic: after reboot, pod -> outside masqueraded again, TCP" tcp $EXT_IP $NODE_EXT_IP

  # upgrade over the edited conffile, non-interactive (documented: --force-confold)
  pid=$(main_pid)
  check "upgrade: dpkg -i --force-confdef --force-confold $UP_VERSION (no tty, no prompt)" \
    tx dpkg -i --force-confdef --force-confold /pkgs/ip-masq_${UP_VERSION}_all.deb
  check "upgrade: version $UP_VERSION installed" test "$(cx dpkg-query -W -f '${Version} ${Status}' ip-masq)" = "$UP_VERSION install ok installed"
  check "upgrade: edited conffile kept, new default beside it as .dpkg-dist" \
    cx sh -c "grep -q 'e2e: good again' $CONF && test -f $CONF.dpkg-dist"
  check "upgrade: service restarted (new MainPID) and still enabled" \
    sh -c "p=\$(nsenter -t $LEADER -a systemctl show -P MainPID ip-masq); [ \"\$p\" != 0 ] && [ \"\$p\" != '$pid' ] && [ \"\$(nsenter -t $LEADER -a systemctl is-enabled ip-masq)\" = enabled ]"
  check "upgrade: rules from the kept config still in place" table_has 198.51.100.0/24

  # remove, purge
  # FLANNEL_IPMASQ=false and no flannel rule: removing ip-masq leaves pod egress un-NATed,
  # so prerm (through ip-masq cleanup) must say so, with the rollback, and log it
  local rmout rc
  rmout=$(cx dpkg -r ip-masq 2>&1) && rc=0 || rc=$?
  printf '$ dpkg -r ip-masq\n%s\n' "$rmout" >>"$TX"
  check "remove: dpkg -r ip-masq" test "$rc" = 0
  check "remove: prerm warns that nothing will masquerade pod egress, with the rollback steps" \
    sh -c 'printf "%s" "$1" | grep -q "NOTHING masquerades pod egress" && printf "%s" "$1" | grep -q "Rollback (any one of these)"' _ "$rmout"
  check "remove: the warning is in the journal too" \
    sh -c "nsenter -t $LEADER -a journalctl -t ip-masq --no-pager -o cat | grep -q 'NOTHING masquerades pod egress'"
  check "remove: service stopped" sh -c "! nsenter -t $LEADER -a systemctl -q is-active ip-masq"
  check "remove: nft table ip ip-masq deleted" no_table
  expect_seen "traffic: after remove, nothing masquerades (pod IP seen outside)" tcp $EXT_IP $POD_IP
  check "remove: config kept" cx grep -q 'e2e: good again' $CONF
  check "remove: the leftover enablement is masked (cannot start without the package)" \
    test "$(cx systemctl is-enabled ip-masq 2>/dev/null)" = masked
  check "purge: dpkg -P ip-masq" tx dpkg -P ip-masq
  check "purge: /etc/ip-masq gone" sh -c "! nsenter -t $LEADER -a test -e /etc/ip-masq"
  check "purge: state gone (/var/lib/ip-masq, /var/lib/private/ip-masq)" \
    sh -c "! nsenter -t $LEADER -a sh -c 'test -e /var/lib/ip-masq || test -e /var/lib/private/ip-masq'"
  check "purge: enablement symlink gone" sh -c "! nsenter -t $LEADER -a test -e /etc/systemd/system/multi-user.target.wants/ip-masq.service"
}

test_rpm() {
  # bookworm's rpm defaults to --dbpath ~/.rpmdb: pin it. --nodeps: the dependencies are in
  # dpkg's database, not rpm's.
  local R=(rpm --dbpath /var/lib/rpm) rpmv
  rpmv=$(cx rpm --version | awk '{print $3}')
  check "rpm: rpm $rpmv -i --nodeps ip-masq-$VERSION-1.noarch.rpm" tx "${R[@]}" -i --nodeps /pkgs/ip-masq-$VERSION-1.noarch.rpm
  check "rpm: installed but not enabled or started" sh -c \
    "[ \"\$(nsenter -t $LEADER -a systemctl is-enabled ip-masq)\" = disabled ] && ! nsenter -t $LEADER -a systemctl -q is-active ip-masq"
  write_config "e2e: rpm edited" 10.0.0.0/8 198.51.100.0/24
  check "rpm: systemctl enable --now ip-masq" cx systemctl enable --now ip-masq
  check "rpm: rules applied" table_has 198.51.100.0/24
  expect_seen "traffic (rpm): pod -> VPC keeps the pod IP" tcp $VPC_IP $POD_IP
  expect_seen "traffic (rpm): pod -> outside masqueraded" tcp $EXT_IP $NODE_EXT_IP
  # the drop-in docs/install.md gives for flannel.removeLegacy (iptables-legacy needs root's
  # /proc/net/ip_tables_names, CAP_NET_RAW and AF_INET): it must still run, as root
  printf '[Service]\nDynamicUser=no\nAmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\nProcSubset=all\n' |
    { cx mkdir -p /etc/systemd/system/ip-masq.service.d; put /etc/systemd/system/ip-masq.service.d/legacy-iptables.conf; }
  cxq systemctl daemon-reload
  check "rpm: documented legacy-iptables drop-in: restarts as root with CAP_NET_ADMIN+CAP_NET_RAW" sh -c \
    "nsenter -t $LEADER -a systemctl restart ip-masq && p=\$(nsenter -t $LEADER -a systemctl show -P MainPID ip-masq) &&
     nsenter -t $LEADER -a grep -Eq '^Uid:\s+0\s' /proc/\$p/status && nsenter -t $LEADER -a grep -q '^CapEff:\s*0000000000003000' /proc/\$p/status"
  check "rpm: ... and still enforces the config" table_has 198.51.100.0/24
  cxq rm -r /etc/systemd/system/ip-masq.service.d
  cxq systemctl daemon-reload
  check "rpm: drop-in removed: back to the DynamicUser" sh -c \
    "nsenter -t $LEADER -a systemctl restart ip-masq && p=\$(nsenter -t $LEADER -a systemctl show -P MainPID ip-masq) &&
     nsenter -t $LEADER -a grep -Eq '^Uid:\s+[1-9]' /proc/\$p/status && nsenter -t $LEADER -a test -L /var/lib/ip-masq"
  local pid; pid=$(main_pid)
  check "rpm: rpm -U --nodeps $UP_VERSION" tx "${R[@]}" -U --nodeps /pkgs/ip-masq-$UP_VERSION-1.noarch.rpm
  check "rpm: %config(noreplace): edit kept, new default as .rpmnew" cx sh -c "grep -q 'e2e: rpm edited' $CONF && test -f $CONF.rpmnew"
  check "rpm: %postun try-restart: new MainPID, still enabled" \
    sh -c "p=\$(nsenter -t $LEADER -a systemctl show -P MainPID ip-masq); [ \"\$p\" != 0 ] && [ \"\$p\" != '$pid' ] && [ \"\$(nsenter -t $LEADER -a systemctl is-enabled ip-masq)\" = enabled ]"
  check "rpm: rules still in place after upgrade" table_has 198.51.100.0/24
  { echo "# e2e: rpm edited, dual-stack"; echo "enableIPv6: true"; echo "nonMasqueradeCIDRs: [10.0.0.0/8, 198.51.100.0/24, fd00::/8]"; } | put $CONF
  check "rpm: enableIPv6 edit -> table ip6 ip-masq too" eventually 5 cx nft list table ip6 ip-masq
  check "rpm: rpm -e ip-masq" tx "${R[@]}" -e ip-masq
  check "rpm: erase stopped and disabled the service" sh -c \
    "! nsenter -t $LEADER -a systemctl -q is-active ip-masq && ! nsenter -t $LEADER -a test -e /etc/systemd/system/multi-user.target.wants/ip-masq.service"
  # rpm >= 4.20 runs scriptlets in a private netns: the cleanup must go through systemd
  check "rpm: erase deleted both nft tables (scriptlet reached the real netns)" sh -c \
    "! nsenter -t $LEADER -a nft list table ip ip-masq && ! nsenter -t $LEADER -a nft list table ip6 ip-masq"
  check "rpm: erase kept the edited config as .rpmsave, removed state" \
    cx sh -c "grep -q 'rpm edited' $CONF.rpmsave && ! test -e /var/lib/private/ip-masq && ! test -e /var/lib/ip-masq"
}

# Boot order (issue #12): /run is a tmpfs, so after the reboot flannel's lease is gone, as on a
# real node where ip-masq starts before flanneld (a pod kubelet starts later). The daemon is
# READY without it and says so; the lease written later (mkdir + rename, as flanneld does) is
# followed at once through the watch, not at the 60 s resync.
test_boot_order() {
  check "boot order: /run/flannel/subnet.env gone with the reboot (flanneld not up yet)" \
    sh -c "! nsenter -t $LEADER -a test -e /run/flannel/subnet.env"
  check "boot order: READY without flannel's facts, and STATUS says the lease is missing" \
    sh -c "nsenter -t $LEADER -a systemctl show -P StatusText ip-masq | grep -q 'subnet.env yet'"
  check "boot order: no pod-network rule before the lease exists" \
    sh -c "! nsenter -t $LEADER -a nft list table ip ip-masq | grep -qF 10.244.0.0/16"
  local t; t=$(now_ms)
  cxq mkdir -p /run/flannel
  printf 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' | put /run/flannel/subnet.env
  check "boot order: pod-network rules follow the lease within 5 s (the resync is 60 s)" \
    eventually 5 table_has 10.244.0.0/16
  TIMES+=("$SUITE subnet.env written after boot -> pod-network rules live (incl. polling): $(( $(now_ms) - t )) ms")
}

# Watchdog and ceilings (issue #10): a daemon whose event loop hangs (SIGSTOP) stops its
# WATCHDOG=1 pings; systemd kills it after WatchdogSec and restarts it, and the new daemon
# re-converges (here: restores the table deleted while the old one was stopped).
test_watchdog() {
  local pid; pid=$(main_pid)
  check "watchdog: unit has WatchdogSec=30s, MemoryMax=256M, TasksMax=64" sh -c \
    "[ \"\$(nsenter -t $LEADER -a systemctl show -P WatchdogUSec ip-masq)\" = 30s ] && [ \"\$(nsenter -t $LEADER -a systemctl show -P MemoryMax ip-masq)\" = 268435456 ] && [ \"\$(nsenter -t $LEADER -a systemctl show -P TasksMax ip-masq)\" = 64 ]"
  cxq kill -STOP "$pid"
  cxq nft delete table ip ip-masq
  local t; t=$(now_ms)
  check "watchdog: SIGSTOPped daemon restarted by systemd (new MainPID)" eventually 120 sh -c \
    "p=\$(nsenter -t $LEADER -a systemctl show -P MainPID ip-masq); [ \"\$p\" != 0 ] && [ \"\$p\" != '$pid' ]"
  check "watchdog: the restarted daemon re-converged (table deleted meanwhile is back)" \
    eventually 30 table_has 198.51.100.0/24
  TIMES+=("$SUITE SIGSTOP -> restarted and re-converged: $(( $(now_ms) - t )) ms")
  check "watchdog: the journal says why (watchdog timeout)" sh -c \
    "nsenter -t $LEADER -a journalctl -u ip-masq --no-pager | grep -qi 'watchdog timeout'"
}

run_suite() {
  SUITE=$1 MACHINE=ipm-e2e-$1 ROOT=$WORK/root-$1 TX=$LOGS/$1-transcript.txt
  : >"$TX"
  local t tarball; t=$(now_ms)
  tarball=$(bash "$HERE/rootfs.sh" "$SUITE" 2>>"$WORK/rootfs-$SUITE.out") || {
    bad "rootfs $SUITE could not be built"; tail -5 "$WORK/rootfs-$SUITE.out" | sed 's/^/       | /' >&3; return; }
  mkdir -p "$ROOT"
  tar --numeric-owner --xattrs --acls -C "$ROOT" -I zstd -xf "$tarball"
  TIMES+=("$SUITE rootfs extract: $(( $(now_ms) - t )) ms")
  ip netns exec $NS_NODE nft flush ruleset
  t=$(now_ms)
  if ! start_container; then
    bad "boot $SUITE with systemd-nspawn"; tail -20 "$WORK/nspawn-$SUITE.log" | sed 's/^/       | /' >&3
    stop_container
    journalctl -D "$ROOT/var/log/journal" --no-pager >"$LOGS/$SUITE-journal.txt" 2>&1 || true
    return
  fi
  TIMES+=("$SUITE boot -> system running: $(( $(now_ms) - t )) ms")
  test_boot
  test_deb
  test_rpm
  save_journal
  stop_container
  rm -rf "$ROOT"
  TIMES+=("$SUITE total: $(( $(now_ms) - t )) ms")
}

main() {
  [ "$(id -u)" = 0 ] || { echo "e2e: must run as root" >&2; exit 2; }
  for t in systemd-nspawn debootstrap zstd nsenter rpmbuild dpkg-deb; do
    command -v $t >/dev/null || { echo "e2e: $t missing (make system-deps)" >&2; exit 2; }
  done
  local host_rules; host_rules=$(nft list ruleset 2>/dev/null | sha256sum)
  rm -rf "$LOGS"; mkdir -p "$LOGS"
  make_packages
  # all rootfs tarballs at once: cold, the two debootstraps overlap (download vs unpack)
  local s t; t=$(now_ms)
  for s in $SUITES; do bash "$HERE/rootfs.sh" "$s" >"$WORK/rootfs-$s.out" 2>&1 & done
  wait
  TIMES+=("rootfs tarballs ($SUITES; cached or debootstrap): $(( $(now_ms) - t )) ms")
  make_network
  set +e   # from here on failures are counted, not fatal
  for s in $SUITES; do run_suite "$s"; done
  SUITE=host
  check "the host's own ruleset is untouched" test "$(nft list ruleset 2>/dev/null | sha256sum)" = "$host_rules"
  TIMES+=("whole e2e: $(( $(now_ms) - T0 )) ms")
  {
    echo "== figures"
    printf '  %s\n' "${TIMES[@]}"
    printf '  systemd-analyze security exposure, %s\n' "${EXPOSURE[@]}"
    ls -l "$PKGS"/ip-masq*"$VERSION"[-_]* | awk '{printf "  package %s: %.1f kB\n", $NF, $5/1024}' | sed "s|$PKGS/||"
  } | tee "$LOGS/figures.txt" >&3
  echo "$PASS passed, $FAIL failed" | tee -a "$LOGS/figures.txt" >&3
  [ "$FAIL" = 0 ]
}
main "$@"
