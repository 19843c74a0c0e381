#!/usr/bin/env bash
# make demo: ip-masq doing its job with real packets, in throwaway network namespaces.
#
#   pod 10.244.1.2 ──veth── node (flannel's iptables-nft rules; ip-masq) ──veth── uplink
#                                                             VPC 198.51.100.10, internet 203.0.113.10
#
# The uplink routes the pod network back to the node, as a VPC does: pods are routable. Before
# ip-masq, flannel masquerades everything leaving the cluster network; after `ip-masq apply`,
# the VPC sees the pod's own address and the internet still sees the node's. Nothing here
# touches the host's own ruleset: every nft/iptables command runs inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

P="ipmdemo$$"
POD="$P-pod" NODE="$P-node" UP="$P-up"
WORK=$(mktemp -d /tmp/ip-masq-demo.XXXXXX)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  for ns in "$POD" "$NODE" "$UP"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ]; then echo "make demo needs root (network namespaces)" >&2; exit 1; fi
bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ipmasq() { in_ns "$NODE" node dist/ip-masq.js "$@" --config "$WORK/config.yaml"; }

for ns in "$POD" "$NODE" "$UP"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
ip link add pod0 netns "$POD" type veth peer name cni0 netns "$NODE"
ip link add eth0 netns "$NODE" type veth peer name eth0 netns "$UP"
in_ns "$POD" ip addr add 10.244.1.2/24 dev pod0;  in_ns "$POD" ip link set pod0 up
in_ns "$POD" ip route add default via 10.244.1.1
in_ns "$NODE" ip addr add 10.244.1.1/24 dev cni0; in_ns "$NODE" ip link set cni0 up
in_ns "$NODE" ip addr add 192.0.2.1/24 dev eth0;  in_ns "$NODE" ip link set eth0 up
in_ns "$NODE" ip route add default via 192.0.2.2
in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
in_ns "$UP" ip addr add 192.0.2.2/24 dev eth0;    in_ns "$UP" ip link set eth0 up
in_ns "$UP" ip addr add 198.51.100.10/32 dev lo;  in_ns "$UP" ip addr add 203.0.113.10/32 dev lo
in_ns "$UP" ip route add 10.244.0.0/16 via 192.0.2.1

# flannel v0.21.3+ with --ip-masq, exactly as it writes its rules (iptables-nft backend).
in_ns "$NODE" iptables-restore --noflush <<'RULES'
*nat
:FLANNEL-POSTRTG - [0:0]
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
COMMIT
RULES
cat > "$WORK/subnet.env" <<'ENV'
FLANNEL_NETWORK=10.244.0.0/16
FLANNEL_SUBNET=10.244.1.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=false
ENV
# The embedded demo config: ip-masq-agent's defaults plus this VPC's public range.
cat > "$WORK/config.yaml" <<YAML
# Traffic to these destinations keeps the pod's source IP; everything else is masqueraded.
nonMasqueradeCIDRs:
  - 10.0.0.0/8
  - 172.16.0.0/12
  - 192.168.0.0/16
  - 198.51.100.0/24   # the VPC
flannel:
  subnetEnv: $WORK/subnet.env
YAML

# Started with ip netns exec directly (not the in_ns function) so $! is the server itself.
ip netns exec "$UP" node scripts/udp-peer.mjs serve 7777 198.51.100.10 203.0.113.10 > "$WORK/server.log" &
SERVER_PID=$!
until grep -q ready "$WORK/server.log" 2>/dev/null; do sleep 0.05; done

FAILED=0
probe() { # label dst expected-source
  local seen; seen=$(in_ns "$POD" node scripts/udp-peer.mjs ask "$2" 7777)
  local who="node IP"; [ "$seen" = 10.244.1.2 ] && who="pod IP"
  local verdict="as expected"; [ "$seen" = "$3" ] || { verdict="UNEXPECTED (wanted $3)"; FAILED=1; }
  printf '  pod 10.244.1.2 → %-26s seen as %-11s (%s) %s\n' "$1 $2" "$seen" "$who" "$verdict"
}

bold "Before ip-masq: flannel masquerades every pod packet leaving the cluster network"
probe "VPC" 198.51.100.10 192.0.2.1
probe "internet" 203.0.113.10 192.0.2.1

bold "ip-masq apply   (config: $WORK/config.yaml)"
ipmasq apply

bold "After: the VPC sees the pod, the internet still sees the node"
probe "VPC" 198.51.100.10 10.244.1.2
probe "internet" 203.0.113.10 192.0.2.1

bold "ip-masq explain: which rule decides"
ipmasq explain 198.51.100.10 --src 10.244.1.2
ipmasq explain 203.0.113.10 --src 10.244.1.2
ipmasq explain 10.244.7.3 --src 10.244.1.2

bold "ip-masq status: our table and its counters"
ipmasq status

bold "flannel's chain now (its RETURN rules stay; only MASQUERADE is gone)"
in_ns "$NODE" iptables -t nat -S FLANNEL-POSTRTG

bold "Cleaning up: namespaces deleted; the host's ruleset was never touched."
exit "$FAILED"
