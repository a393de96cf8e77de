#!/usr/bin/env bash
# A working demo on a fresh Debian 12 machine (run as root): dpvsd forwarding real traffic.
#
#   client ns              lb ns: dpvsd on DPDK net_af_packet               switch ns     rs0, rs1 ns
#   cl0 10.90.1.2 ----- lb-c (dpdk0) 10.90.1.1      lb-s (dpdk1) 10.90.2.1 ----- br0 ----- eth0 10.90.2.10, .11
#   default via .1.1        VIP 10.90.0.100         local address 10.90.2.3                 python3 HTTP server
#
# It installs what is missing (scripts/setup.sh), builds release binaries, builds the namespaces,
# starts dpvsd inside the lb namespace with DPDK net_af_packet ports on lb-c and lb-s, configures
# a full-NAT service with Debian's unmodified /usr/sbin/ipvsadm through the shim, sends six
# requests from the client (answered by rs0 and rs1 in turn), lists the statistics and the
# connections, restarts dpvsd (the table survives: the requests still go through) and removes
# everything it made, also on an error or ^C. Every command it runs is printed with "# ".
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (namespaces; ipvsadm needs CAP_NET_ADMIN, as with kernel IPVS)" >&2; exit 1; }
bash scripts/setup.sh
cargo build --release -q -p dpvsd -p ipvs-netlink-shim
built=$SECONDS

TAG=dpvsdemo-$$
C=$TAG-client LB=$TAG-lb SW=$TAG-switch
VIP=10.90.0.100
work=$(mktemp -d /tmp/dpvs-demo.XXXXXX)
sock=$work/ipvs.sock
pid=
pids=()

say() { echo "# $*" >&2; }
run() { say "$@"; "$@"; }
stop_pid() { # SIGTERM, SIGKILL after 5 s, reap
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
stop_dpvsd() { if [ -n "$pid" ]; then stop_pid "$pid"; pid=; fi; }
cleanup() {
  local rc=$? p ns
  trap - EXIT INT TERM
  stop_dpvsd
  for p in "${pids[@]}"; do stop_pid "$p"; done
  for ns in $(ip netns list | awk -v t="$TAG-" 'index($1, t) == 1 { print $1 }'); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
  [ -z "${built:-}" ] || echo "demo: $((SECONDS - built)) s after the build" >&2
  echo "demo: cleaned up (processes stopped, namespaces $TAG-* deleted)" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { # message: print it and dpvsd's log, exit 1
  echo "demo: $*" >&2
  [ -f "$work/dpvsd.log" ] && tail -n 20 "$work/dpvsd.log" >&2
  exit 1
}

echo "=== the testbed: namespaces, veths, a bridge, two real servers"
for ns in $C $LB $SW $TAG-rs0 $TAG-rs1; do run ip netns add "$ns"; ip -n "$ns" link set lo up; done
run ip -n $C link add cl0 type veth peer name lb-c netns $LB
run ip -n $LB link add lb-s type veth peer name sw-lb netns $SW
run ip -n $SW link add br0 type bridge stp_state 0
run ip -n $SW link set sw-lb master br0
run ip -n $C addr add 10.90.1.2/24 dev cl0
for l in "$C cl0" "$LB lb-c" "$LB lb-s" "$SW br0" "$SW sw-lb"; do set -- $l; ip -n "$1" link set "$2" up; done
run ip -n $C route add default via 10.90.1.1
for i in 0 1; do
  rs=$TAG-rs$i
  run ip -n "$rs" link add eth0 type veth peer name "sw-rs$i" netns $SW
  run ip -n $SW link set "sw-rs$i" master br0
  ip -n $SW link set "sw-rs$i" up
  ip -n "$rs" link set eth0 up
  run ip -n "$rs" addr add "10.90.2.1$i/24" dev eth0
  run ip -n "$rs" route add default via 10.90.2.1
  # af_packet hands dpvsd what the sending veth leaves of the checksum with TX offload on (a
  # partial checksum): the ends that send towards dpvsd compute their checksums in software
  run ip netns exec "$rs" ethtool -K eth0 tx off >/dev/null
  mkdir -p "$work/rs$i"
  echo "rs$i" >"$work/rs$i/index.html"
  # HTTP/1.1, so that curl closes first and the real servers keep no TIME_WAIT sockets (a
  # restarted dpvsd hands out the same full-NAT local ports again)
  say ip netns exec "$rs" python3 -m http.server 80 --protocol HTTP/1.1 --bind 10.90.2.1$i --directory "$work/rs$i" "&"
  ip netns exec "$rs" python3 -m http.server 80 --protocol HTTP/1.1 --bind "10.90.2.1$i" --directory "$work/rs$i" \
    >"$work/rs$i.log" 2>&1 &
  pids+=($!)
done
run ip netns exec $C ethtool -K cl0 tx off >/dev/null

cat >"$work/dpvsd.conf" <<EOF
[control]
ipvs_socket = "$sock"
state_dir = "$work/state"
log_level = warn

[dataplane]
workers = 1
masquerade_fullnat = yes    # -m dests are forwarded by full-NAT from the sapool addresses

[eal]
file_prefix = $TAG
memory = 256

[port.dpdk0]
interface = lb-c
address = 10.90.1.1/24
address = $VIP/32    # the VIP: dpvsd answers ARP and ping for it

[port.dpdk1]
interface = lb-s
address = 10.90.2.1/24
address = "10.90.2.3/24 sapool"
EOF
start_dpvsd() {
  say ip netns exec $LB target/release/dpvsd --config "$work/dpvsd.conf" "&"
  ip netns exec $LB target/release/dpvsd --config "$work/dpvsd.conf" >>"$work/dpvsd.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    [ -S "$sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || { pid=; fail "dpvsd exited"; }
    sleep 0.05
  done
  fail "dpvsd did not open $sock in 10 s"
}
ipvsadm() {
  say ipvsadm "$@"
  LD_PRELOAD="$PWD/target/release/libipvs_netlink_shim.so" DPVSD_IPVS_SOCKET="$sock" /usr/sbin/ipvsadm "$@"
}
curl_vip() { ip netns exec $C curl -sS --max-time 2 "http://$VIP/"; }
requests() { # n: n requests from the client to the VIP, one connection each
  local i
  say "ip netns exec $C curl -s http://$VIP/   (x $1)"
  for i in $(seq "$1"); do
    printf '  request %d: %s\n' "$i" "$(curl_vip || echo FAILED)"
  done
}

echo
echo "=== dpvsd in the lb namespace on DPDK net_af_packet ports (the kernel keeps no address there)"
sed 's/^/    /' "$work/dpvsd.conf"
start_dpvsd

echo
echo "=== a full-NAT service, configured with Debian's ipvsadm through the shim"
say "export LD_PRELOAD=$PWD/target/release/libipvs_netlink_shim.so DPVSD_IPVS_SOCKET=$sock"
ipvsadm -A -t $VIP:80 -s rr
ipvsadm -a -t $VIP:80 -r 10.90.2.10:80 -m
ipvsadm -a -t $VIP:80 -r 10.90.2.11:80 -m
ipvsadm -Ln

for i in 0 1; do # the real servers are up (direct checks go through the bridge, not dpvsd)
  for _ in $(seq 100); do
    ip netns exec $TAG-rs$i python3 -c "import urllib.request as u; u.urlopen('http://10.90.2.1$i/', timeout=1)" \
      2>/dev/null && break
    sleep 0.1
  done
done
# one request first, so that the real servers are up behind the VIP (it is counted below)
for _ in $(seq 50); do curl_vip >/dev/null 2>&1 && break; sleep 0.2; done

echo
echo "=== the client's requests to the VIP, answered by rs0 and rs1 in turn (round robin;"
echo "    the first connection was a readiness check, so the counters below show one more)"
requests 6

echo
echo "=== statistics and connections (the kernel's /proc formats, served by dpvsd)"
ipvsadm -Ln --stats
ipvsadm -Lnc

echo
echo "=== restart dpvsd: the table is restored from $work/state, traffic flows again"
say kill "$pid"
stop_dpvsd
start_dpvsd
ipvsadm -Ln
for _ in $(seq 50); do curl_vip >/dev/null 2>&1 && break; sleep 0.2; done
requests 4
