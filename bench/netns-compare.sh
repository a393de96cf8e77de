#!/usr/bin/env bash
# Load-balancer comparison on the netns testbed (a benchmark, not a test). Builds the topology
# of tests/src/netns.rs with `ip netns`, nginx real servers, and measures, one after another in
# one run, the same three figures through each path:
#
#   kernel-routing  client -> real servers directly, routed by the lb namespace's kernel
#                   (no balancer; the testbed's own limit)
#   nftables-dnat   VIP 10.90.0.100 DNATed in the lb namespace (numgen inc mod 2), conntrack
#   haproxy-tcp     HAProxy (mode tcp, roundrobin) in the lb namespace on VIP 10.90.0.101
#   dpdk-macfwd     the floor of any DPDK application on these ports: crates/dpdk's example
#                   macfwd on net_af_packet lb-c and lb-s, set up as dpvsd is, rewriting MACs
#                   by a static next-hop table and nothing else; client -> real servers
#                   directly, as kernel-routing (MACFWD_BUSY=1: busy poll; MACFWD_QUEUES=N:
#                   N queue pairs, one lcore each)
#   dpvsd-fullnat   dpvsd in the lb namespace on DPDK net_af_packet ports (lb-c, lb-s), VIP
#                   10.90.0.102, rr over rs0 and rs1, -m dests by full-NAT from 8 local
#                   addresses 10.90.2.2-9; configured with Debian's ipvsadm through the shim
#   dpvsd-nat       the same dpvsd as a plain NAT (masquerade) balancer
#
# Figures (each DURATION seconds, default 10):
#   new conn/s      wrk -t2 -c32 -H 'Connection: close': every request is a new TCP connection
#                   (handshake, one request, close), so requests/s = connections/s
#   req/s keepalive wrk -t2 -c64: persistent connections
#   UDP fwd pkt/s   iperf3 -u -b 0 -l 64 (64-byte payloads, unlimited rate), two flows, one per
#                   real server: the packets the lb namespace sent towards the real servers per
#                   second (the TX counter of lb-s, before and after, over DURATION): the
#                   forwarding rate. HAProxy proxies no UDP: n/a.
#   UDP rcv pkt/s   the same run: what the iperf3 servers received (sent - lost, iperf3's own
#                   count). Lower than the forwarding rate when the single-threaded receivers
#                   cannot keep up (their socket buffers overflow: UdpRcvbufErrors), which says
#                   nothing about the balancer.
# For kernel-routing, every figure is two load generators at once, one per real server
# (half the connections / one UDP flow each), summed, so that it uses the same two servers.
# iperf3's control connection (TCP) and its data flow (UDP) must reach the same server, which a
# per-connection numgen cannot promise: the UDP figure of nftables-dnat maps VIP:5201 to rs0 and
# VIP:5202 to rs1 (still a DNAT with conntrack per flow).
#
# Nothing is pinned: on a 2-core machine, pinning would only decide which of load generator,
# servers and the forwarding softirqs starves; all of them share both cores, as they would
# share them with dpvsd's worker later. Compare rows of one run, not runs of different days.
#
#   bench/netns-compare.sh --out results.csv [--plot results.png] [--duration S] [--only REGEX]
#   bench/netns-compare.sh --replot --out results.csv [--plot results.png]   # PNG of a CSV only
#
# --only REGEX measures only the rows whose name matches (e.g. --only dpvsd). dpvsd's settings
# come from the environment: DPVSD_WORKERS (default 1), DPVSD_IDLE_US (idle_sleep_us, default
# 200; 0 = busy poll), DPVSD_BURST (default 64), DPVSD_AFP (more net_af_packet options, e.g.
# framecnt=2048), DPVSD_KDROP (1: an nftables ingress chain drops the lb kernel's own copy of
# each frame, which af_packet has already taken; dpvsd does that itself for `interface` ports,
# so the default is 1 only with DPVSD_AFP's `vdev` ports). During the dpvsd rows only, the
# client's and the real servers' veths have TX checksum offload off (af_packet would hand
# dpvsd partial checksums); the kernel rows keep it on (TX_OFF_ALL=1: off for every row).
# The switch namespace bridges without IP netfilter, as a switch would (SWITCH_NF=1: with
# br_netfilter's hooks, this kernel's default, for every row).
#
# Prints a table, writes CSV to --out, and a PNG (default: --out with .png) when gnuplot is
# installed. Needs root, iproute2, nftables, nginx, haproxy, wrk, iperf3, curl, python3, ethtool
# (scripts/setup.sh installs them). Everything runs in namespaces named dpvsb-<pid>-*; all
# processes are stopped by pid and every namespace deleted on exit, also on failure or ^C.
set -euo pipefail
cd "$(dirname "$0")/.."

out= plot= replot= duration=${DURATION:-10} only=.
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --plot) plot=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --replot) replot=1; shift ;;
    -h|--help) sed -n '2,54p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
# ---- plot: plot_csv CSV PNG (skipped when gnuplot is missing) --------------------------
plot_csv() {
  if command -v gnuplot >/dev/null; then
    local out=$1 plot=$2 dat rows
    dat=$(mktemp /tmp/dpvs-netns-plot.XXXXXX)
    rows=$(($(wc -l <"$out") - 1))
    awk -F, 'NR > 1 {
        label = $1; if ($2 == "") label = label " (no figures)"
        for (i = 2; i <= 5; i++) if ($i == "" || $i == "n/a") $i = "NaN"
        printf "\"%s\" %s %s %s %s\n", label, $2, $3, $4, $5 }' "$out" >"$dat"
    gnuplot <<EOF
set terminal pngcairo size 1500,520 font "sans,10"
set output "$plot"
set datafile missing "NaN"
set style fill solid 0.8 border -1
set boxwidth 0.6
set grid ytics
set yrange [0:*]
set xtics rotate by -30 scale 0
set xrange [-0.6:$rows - 0.4]
set lmargin 9
set rmargin 7
set offsets 0, 0, graph 0.08, 0
set bmargin 8
set format y "%.0s%c"
set multiplot layout 1,3 title "Load-balancer paths on the netns testbed ($(nproc) cores, ${duration} s per figure, $(date -u -r "$out" +%Y-%m-%d))"
set title "new TCP connections/s (wrk, Connection: close)"
plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa" notitle, "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8 notitle
set title "requests/s, keep-alive (wrk)"
plot "$dat" using 0:3:xtic(1) with boxes lc rgb "#228833" notitle, "" using 0:3:(sprintf("%.0f", \$3)) with labels offset 0,0.8 notitle
set rmargin 11
set title "UDP packets/s, 64-byte payload (iperf3 -u -b 0)"
set boxwidth 0.3
set key top right
plot "$dat" using (\$0 - 0.15):4:xtic(1) with boxes lc rgb "#cc6677" title "forwarded (lb-s TX)", \\
     "" using (\$0 + 0.15):5 with boxes lc rgb "#ddcc77" title "received by iperf3", \\
     "" using (\$0 - 0.15):4:(sprintf("%.0f", \$4)) with labels offset 0,0.8 font ",8" notitle, \\
     "" using (\$0 + 0.15):5:(sprintf("%.0f", \$5)) with labels offset 0,0.8 font ",8" notitle
unset multiplot
EOF
    rm -f "$dat"
    echo "plot: $plot"
  else
    echo "plot: skipped (gnuplot is not installed)"
  fi
}

[ -n "$out" ] || { echo "usage: $0 --out FILE.csv [--plot FILE.png] [--duration S]" >&2; exit 2; }
[ -n "$plot" ] || plot=${out%.csv}.png
if [ -n "$replot" ]; then plot_csv "$out" "$plot"; exit 0; fi
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in ip nft nginx haproxy wrk iperf3 curl python3 ethtool; do
  command -v "$t" >/dev/null || { echo "needs $t (run scripts/setup.sh)" >&2; exit 1; }
done
if [[ dpdk-macfwd =~ $only ]]; then
  cargo build --release -q -p dpdk --example macfwd || [ -x target/release/examples/macfwd ] || exit 1
fi
if [[ dpvsd-fullnat =~ $only || dpvsd-nat =~ $only ]]; then
  # the tree is shared: when it does not build, the last release binaries are used (said so)
  cargo build --release -q -p dpvsd -p ipvs-netlink-shim ||
    { [ -x target/release/dpvsd ] && echo "build failed: using target/release/dpvsd of $(date -u -r target/release/dpvsd +%H:%MZ)" >&2; } ||
    exit 1
fi

N=2                                   # real servers
TAG=dpvsb-$$
NS_C=$TAG-client NS_LB=$TAG-lb NS_SW=$TAG-switch
rs_ns() { echo "$TAG-rs$1"; }
rs_ip() { echo "10.90.2.$((10 + $1))"; }
VIP_DNAT=10.90.0.100 VIP_HAPROXY=10.90.0.101 VIP_DPVSD=10.90.0.102
work=$(mktemp -d /tmp/dpvs-netns-bench.XXXXXX)
pids=()
load_before=$(cut -d" " -f1-3 /proc/loadavg)

# ---- dpvsd ------------------------------------------------------------------------------
# dpvsd_setup MODE (fullnat | nat) starts dpvsd inside "$NS_LB" with DPDK net_af_packet ports
# on lb-c (dpdk0, client side) and lb-s (dpdk1, server side), after removing the kernel's
# addresses there (only dpvsd answers ARP for 10.90.1.1 and 10.90.2.1); full-NAT gets the 8
# local addresses 10.90.2.2-10.90.2.9 (sapool). Debian's ipvsadm, through the shim, configures
# the VIP $VIP_DPVSD: TCP :80 over rs0 and rs1 (rr), TCP and UDP :5201 -> rs0:5201 and :5202 ->
# rs1:5201 (iperf3's control connection and its flow), all -m (full-NAT with
# masquerade_fullnat = yes, else NAT). It returns once `curl http://$VIP_DPVSD/` from the client
# answers. dpvsd_teardown prints dpvsd's per-service counters, stops it and restores the
# kernel's addresses.
DPVSD_WORKERS=${DPVSD_WORKERS:-1}     # [dataplane] workers (= af_packet qpairs per port)
DPVSD_IDLE_US=${DPVSD_IDLE_US:-200}   # [dataplane] idle_sleep_us: back-off ceiling, 0 = busy poll
DPVSD_BURST=${DPVSD_BURST:-64}        # [dataplane] burst (the chosen setting; dpvsd.conf default 32)
DPVSD_AFP=${DPVSD_AFP:-}              # more net_af_packet options, e.g. framecnt=2048,blocksz=8192
# 1: the harness drops the lb kernel's own copy of each frame (ingress); dpvsd does so itself
# for its `interface` ports, so the default is 1 only for `vdev` ports (DPVSD_AFP)
DPVSD_KDROP=${DPVSD_KDROP:-$([ -n "$DPVSD_AFP" ] && echo 1 || echo 0)}
TX_OFF_ALL=${TX_OFF_ALL:-0}           # 1: TX checksum offload off for every row, not only dpvsd's
dpvsd_pid= macfwd_pid=
tx_csum() { # on | off: TX checksum offload of the client's and the real servers' veths
  local i
  nsx "$NS_C" ethtool -K cl0 tx "$1" >/dev/null
  for i in $(seq 0 $((N - 1))); do nsx "$(rs_ns "$i")" ethtool -K eth0 tx "$1" >/dev/null; done
}
kdrop_on() { # drop the lb kernel's own copy of every frame on lb-c and lb-s
  # af_packet receives its copy of a frame before the ingress hooks run; the kernel's own
  # copy (IP input with no route, ARP for addresses it no longer has) is dropped there
  # instead of being processed for nothing (an nftables netdev ingress chain: this kernel
  # has no tc drop action). Removed with `nft delete table netdev dpvsb_kdrop`.
  nsx "$NS_LB" nft -f - <<NFT
table netdev dpvsb_kdrop {
  chain lbc { type filter hook ingress device "lb-c" priority filter; policy drop; }
  chain lbs { type filter hook ingress device "lb-s" priority filter; policy drop; }
}
NFT
}
dpvsd_ipvsadm() { # Debian's ipvsadm through the shim, on this run's dpvsd
  LD_PRELOAD="$PWD/target/release/libipvs_netlink_shim.so" DPVSD_IPVS_SOCKET="$work/dpvsd/ipvs.sock" \
    /usr/sbin/ipvsadm "$@"
}
dpvsd_port() { # index interface: the port's device line
  if [ -n "$DPVSD_AFP" ]; then
    echo "vdev = net_af_packet$1,iface=$2,qpairs=$DPVSD_WORKERS,$DPVSD_AFP"
  else
    echo "interface = $2"
  fi
}
dpvsd_setup() { # fullnat | nat
  local mode=$1 i proto sapool=
  mkdir -p "$work/dpvsd"
  rm -rf "$work/dpvsd/state" "$work/dpvsd/ipvs.sock"
  if [ "$mode" = fullnat ]; then
    for i in $(seq 2 9); do sapool+="address = \"10.90.2.$i/24 sapool\""$'\n'; done
  fi
  cat >"$work/dpvsd/dpvsd.conf" <<CONF
[control]
ipvs_socket = "$work/dpvsd/ipvs.sock"
state_dir = "$work/dpvsd/state"
log_level = info
[dataplane]
workers = $DPVSD_WORKERS
idle_sleep_us = $DPVSD_IDLE_US
burst = $DPVSD_BURST
masquerade_fullnat = $([ "$mode" = fullnat ] && echo yes || echo no)
[eal]
file_prefix = $TAG
memory = 512
[port.dpdk0]
$(dpvsd_port 0 lb-c)
address = 10.90.1.1/24
address = $VIP_DPVSD/32
[port.dpdk1]
$(dpvsd_port 1 lb-s)
address = 10.90.2.1/24
$sapool
CONF
  # dpvsd alone answers for 10.90.1.1 and 10.90.2.1: the lb kernel keeps no address there
  ip -n "$NS_LB" addr flush dev lb-c
  ip -n "$NS_LB" addr flush dev lb-s
  [ "$DPVSD_KDROP" = 1 ] && kdrop_on
  # af_packet takes a frame as the sending veth leaves it: with TX checksum offload on, its
  # TCP/UDP checksum is partial. The ends that send towards dpvsd compute checksums in
  # software during the dpvsd rows (only then: the kernel rows keep the offload)
  tx_csum off
  ip netns exec "$NS_LB" target/release/dpvsd --config "$work/dpvsd/dpvsd.conf" >"$work/dpvsd/log" 2>&1 &
  dpvsd_pid=$!
  pids+=("$dpvsd_pid")
  for i in $(seq 200); do [ -S "$work/dpvsd/ipvs.sock" ] && break; sleep 0.05; done
  [ -S "$work/dpvsd/ipvs.sock" ] || { echo "dpvsd did not start:" >&2; tail "$work/dpvsd/log" >&2; return 1; }
  dpvsd_ipvsadm -A -t $VIP_DPVSD:80 -s rr || return 1
  for i in $(seq 0 $((N - 1))); do dpvsd_ipvsadm -a -t $VIP_DPVSD:80 -r "$(rs_ip "$i"):80" -m || return 1; done
  # iperf3: its TCP control connection and its UDP flow reach the same server
  for proto in -t -u; do
    for i in 0 1; do
      dpvsd_ipvsadm -A $proto $VIP_DPVSD:$((5201 + i)) -s rr || return 1
      dpvsd_ipvsadm -a $proto $VIP_DPVSD:$((5201 + i)) -r "$(rs_ip "$i"):5201" -m || return 1
    done
  done
  wait_for "dpvsd $mode on the VIP" nsx "$NS_C" curl -sf --max-time 1 "http://$VIP_DPVSD/"
}
dpvsd_teardown() {
  local i p rest=()
  [ -n "$dpvsd_pid" ] || return 0
  dpvsd_ipvsadm -Ln --stats | awk '$1 == "TCP" || $1 == "UDP" { printf "   dpvsd: %s %s conns %s inpkts %s outpkts %s\n", $1, $2, $3, $4, $5 }' >&2 || true
  stop_pid "$dpvsd_pid"
  for p in "${pids[@]}"; do [ "$p" = "$dpvsd_pid" ] || rest+=("$p"); done
  pids=("${rest[@]}")
  dpvsd_pid=
  # dpvsd logs its workers' and ports' counters at exit (rx_missed: af_packet RX-ring drops)
  grep -E 'WARN|ERROR|worker [0-9]+:|port counters' "$work/dpvsd/log" |
    sed 's/\x1b\[[0-9;]*m//g; s/^.*INFO [^ ]*: //; s/^/   dpvsd: /' >&2 || true
  nsx "$NS_LB" nft delete table netdev dpvsb_kdrop 2>/dev/null || true
  [ "$TX_OFF_ALL" = 1 ] || tx_csum on || true
  ip -n "$NS_LB" addr add 10.90.1.1/24 dev lb-c 2>/dev/null || true
  ip -n "$NS_LB" addr add 10.90.2.1/24 dev lb-s 2>/dev/null || true
}

stop_pid() { # pid: SIGTERM, SIGKILL after 5 s, reap
  local p=$1 i
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
namespaces() { ip netns list | awk -v t="$TAG-" 'index($1, t) == 1 { print $1 }'; }
cleanup() {
  local rc=$? p ns
  trap - EXIT INT TERM
  dpvsd_teardown || true
  for p in "${pids[@]}"; do stop_pid "$p"; done
  for ns in $(namespaces); do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
  [ -z "$macfwd_pid" ] || rm -rf "/var/run/dpdk/macfwd-$macfwd_pid"
  if [ -n "$(namespaces)" ]; then
    echo "cleanup: namespaces left behind: $(namespaces | tr '\n' ' ')" >&2
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
start() { # ns command...: runs in the background, remembers the pid (ip netns exec execs it)
  local ns=$1; shift
  ip netns exec "$ns" "$@" >"$work/log.$((${#pids[@]}))" 2>&1 &
  pids+=($!)
}
wait_for() { # what command...: retries for 10 s
  local what=$1 i; shift
  for i in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $what; logs of the started processes:" >&2
  tail -n 5 "$work"/log.* >&2 || true
  exit 1
}

# ---- topology (the same names and addresses as tests/src/netns.rs) ---------------------
for ns in "$NS_C" "$NS_LB" "$NS_SW" $(for i in $(seq 0 $((N - 1))); do rs_ns "$i"; done); do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip -n "$NS_C" link add cl0 type veth peer name lb-c netns "$NS_LB"
ip -n "$NS_LB" link add lb-s type veth peer name sw-lb netns "$NS_SW"
ip -n "$NS_SW" link add br0 type bridge stp_state 0
# the switch namespace is a switch: bridged frames skip IP netfilter (br_netfilter is built into
# this kernel and on by default in every namespace); SWITCH_NF=1 keeps it, for every row
if [ "${SWITCH_NF:-0}" != 1 ]; then
  nsx "$NS_SW" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 \
    net.bridge.bridge-nf-call-arptables=0
fi
ip -n "$NS_SW" link set sw-lb master br0
for l in cl0; do ip -n "$NS_C" link set $l up; done
for l in lb-c lb-s; do ip -n "$NS_LB" link set $l up; done
for l in br0 sw-lb; do ip -n "$NS_SW" link set $l up; done
ip -n "$NS_C" addr add 10.90.1.2/24 dev cl0
ip -n "$NS_C" route add default via 10.90.1.1
ip -n "$NS_LB" addr add 10.90.1.1/24 dev lb-c
ip -n "$NS_LB" addr add 10.90.2.1/24 dev lb-s
ip -n "$NS_LB" addr add $VIP_HAPROXY/32 dev lo
nsx "$NS_LB" sysctl -qw net.ipv4.ip_forward=1
for i in $(seq 0 $((N - 1))); do
  ns=$(rs_ns "$i")
  ip -n "$ns" link add eth0 type veth peer name "sw-rs$i" netns "$NS_SW"
  ip -n "$NS_SW" link set "sw-rs$i" master br0
  ip -n "$NS_SW" link set "sw-rs$i" up
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "$(rs_ip "$i")/24" dev eth0
  ip -n "$ns" route add default via 10.90.2.1
done
[ "$TX_OFF_ALL" = 1 ] && tx_csum off
# Short connections: wide ephemeral port ranges, TIME_WAIT reuse for outgoing connections
# (client: wrk; lb: HAProxy's server side).
for ns in "$NS_C" "$NS_LB"; do
  nsx "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
done

# ---- real servers: nginx (one worker, answers its name) and iperf3 ----------------------
for i in $(seq 0 $((N - 1))); do
  d=$work/rs$i
  mkdir -p "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server {
    listen 80 backlog=8192;
    location / { default_type text/plain; return 200 "rs$i\n"; }
  }
}
EOF
  start "$(rs_ns "$i")" nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
  start "$(rs_ns "$i")" iperf3 -s -p 5201
done
for i in $(seq 0 $((N - 1))); do
  wait_for "nginx in rs$i" nsx "$NS_C" curl -sf --max-time 1 "http://$(rs_ip "$i")/"
done

# ---- measurement ----------------------------------------------------------------------
wrk_rps() { # close|keepalive connections url... : one wrk per url in parallel (threads and
            # connections split between them), requests/s summed
  local mode=$1 total=$2 n i=0 u p files=() jobs=() hdr=()
  shift 2
  n=$#
  [ "$mode" = close ] && hdr=(-H "Connection: close")
  for u in "$@"; do
    nsx "$NS_C" wrk -t$((2 / n)) -c$((total / n)) -d"${duration}s" "${hdr[@]}" "$u" \
      >"$work/wrk.$i" 2>&1 &
    jobs+=($!); files+=("$work/wrk.$i"); i=$((i + 1))
  done
  for p in "${jobs[@]}"; do wait "$p" || true; done
  for u in "${files[@]}"; do
    grep -q '^Requests/sec' "$u" || { echo "wrk failed:" >&2; cat "$u" >&2; return 1; }
    if grep -qE 'Socket errors|Non-2xx' "$u"; then
      echo "   wrk: $(grep -E 'Socket errors|Non-2xx' "$u" | tr -s ' ' | paste -sd ';')" >&2
    fi
  done
  awk '/^Requests\/sec/ { s += $2 } END { printf "%.0f", s }' "${files[@]}"
}
lb_tx() { nsx "$NS_LB" cat /sys/class/net/lb-s/statistics/tx_packets; }
udp_pps() { # host:port... : one iperf3 client each, in parallel; prints "forwarded received"
            # packets per second
  local i=0 hp p files=() jobs=() tx0 tx1
  tx0=$(lb_tx)
  for hp in "$@"; do
    nsx "$NS_C" iperf3 -c "${hp%:*}" -p "${hp#*:}" -u -b 0 -l 64 -t "$duration" -J \
      >"$work/iperf.$i" 2>&1 &
    jobs+=($!); files+=("$work/iperf.$i"); i=$((i + 1))
  done
  for p in "${jobs[@]}"; do wait "$p" || true; done
  tx1=$(lb_tx)
  python3 - $(((tx1 - tx0) / duration)) "${files[@]}" <<'PY'
import json, sys
total = 0.0
for f in sys.argv[2:]:
    text = open(f).read()
    start = text.find("{")
    try:
        # iperf3 may print a line of its own before its JSON (e.g. a warning): said, skipped
        r, _ = json.JSONDecoder().raw_decode(text[max(start, 0):])
    except ValueError:
        sys.exit("iperf3 did not finish: " + text[:300] + " ... " + text[-300:])
    if start > 0:
        print("   iperf3 said: " + " ".join(text[:start].split()), file=sys.stderr)
    if "error" in r:
        sys.exit("iperf3: %s" % r["error"])
    s = r["end"]["sum"]
    sent = s["packets"] / s["seconds"]
    got = (s["packets"] - s["lost_packets"]) / s["seconds"]
    print("   iperf3 %s: sent %.0f pkt/s, received %.0f pkt/s (%.1f%% lost)"
          % (r["start"]["connected"][0]["remote_host"], sent, got, s["lost_percent"]), file=sys.stderr)
    total += got
print("   lb-s forwarded %s pkt/s" % sys.argv[1], file=sys.stderr)
print("%s %.0f" % (sys.argv[1], total))
PY
}

declare -A CPS RPS PPS PPSR NOTE
ROWS=(kernel-routing nftables-dnat haproxy-tcp dpdk-macfwd dpvsd-fullnat dpvsd-nat)
SKIPPED="skipped (--only)"
FAILED="failed: dpvsd did not come up (see the messages above)"
wanted() { [[ $1 =~ $only ]]; }
# Every path gets its own client source address (10.90.1.2, .3, ...): TIME_WAIT sockets that
# one path's short connections leave on the real servers (nginx closes first) must not meet the
# next path's connections from the same ports. The client's TCP timestamps have a random offset
# per connection (its addresses and ports: a SYN to the VIP has another offset than one to the
# real server), so a SYN rewritten onto an old 4-tuple can carry an older timestamp than the
# TIME_WAIT socket it meets, PAWS drops it, and the connection waits for a 1 s SYN retransmit.
# (Full-NAT meets the same when it reuses a local port within the server's TIME_WAIT: dpvsd
# holds a local port for its own TIME_WAIT, 120 s, longer than Linux's 60 s.)
src_index=2
measure() { # row tcp-url... -- udp-host:port...
  local row=$1 urls=() udps=()
  shift
  nsx "$NS_C" ip addr add "10.90.1.$src_index/24" dev cl0 2>/dev/null || true
  nsx "$NS_C" ip route replace default via 10.90.1.1 dev cl0 src "10.90.1.$src_index"
  src_index=$((src_index + 1))
  while (($#)) && [ "$1" != -- ]; do urls+=("$1"); shift; done
  shift || true
  udps=("$@")
  echo "== $row: new connections/s (${duration} s)" >&2
  CPS[$row]=$(wrk_rps close 32 "${urls[@]}") || exit 1
  echo "== $row: requests/s keep-alive (${duration} s)" >&2
  RPS[$row]=$(wrk_rps keepalive 64 "${urls[@]}") || exit 1
  if ((${#udps[@]})); then
    echo "== $row: UDP packets/s (${duration} s)" >&2
    read -r "PPS[$row]" "PPSR[$row]" < <(udp_pps "${udps[@]}" || echo fail fail)
    [ "${PPS[$row]}" != fail ] || exit 1
  else
    PPS[$row]=n/a PPSR[$row]=n/a
  fi
}

skip() { CPS[$1]=$SKIPPED RPS[$1]= PPS[$1]= PPSR[$1]= NOTE[$1]=; }

# (a) plain kernel routing, both servers at once
if wanted kernel-routing; then
measure kernel-routing "http://$(rs_ip 0)/" "http://$(rs_ip 1)/" -- "$(rs_ip 0):5201" "$(rs_ip 1):5201"
NOTE[kernel-routing]="no balancer: one load generator per real server"
else skip kernel-routing; fi

# (b) nftables DNAT in the lb namespace
if wanted nftables-dnat; then
nsx "$NS_LB" nft -f - <<EOF
table ip dpvsb {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr $VIP_DNAT tcp dport 80 dnat to numgen inc mod 2 map { 0 : $(rs_ip 0), 1 : $(rs_ip 1) }
    ip daddr $VIP_DNAT meta l4proto { tcp, udp } th dport 5201 dnat to $(rs_ip 0):5201
    ip daddr $VIP_DNAT meta l4proto { tcp, udp } th dport 5202 dnat to $(rs_ip 1):5201
  }
}
EOF
wait_for "the DNAT VIP" nsx "$NS_C" curl -sf --max-time 1 "http://$VIP_DNAT/"
measure nftables-dnat "http://$VIP_DNAT/" -- "$VIP_DNAT:5201" "$VIP_DNAT:5202"
NOTE[nftables-dnat]="numgen inc mod 2; UDP: one flow per server"
nsx "$NS_LB" nft delete table ip dpvsb # conntrack hooks go with the last NAT rule
else skip nftables-dnat; fi

# (c) HAProxy, TCP mode
if wanted haproxy-tcp; then
cat >"$work/haproxy.cfg" <<EOF
global
  maxconn 8000 # fds: 2 per connection; the hard limit here is 20000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend vip
  bind $VIP_HAPROXY:80
  default_backend rs
backend rs
  balance roundrobin
  server rs0 $(rs_ip 0):80
  server rs1 $(rs_ip 1):80
EOF
start "$NS_LB" haproxy -db -f "$work/haproxy.cfg"
wait_for "HAProxy" nsx "$NS_C" curl -sf --max-time 1 "http://$VIP_HAPROXY/"
measure haproxy-tcp "http://$VIP_HAPROXY/" --
NOTE[haproxy-tcp]="HAProxy $(haproxy -v | awk 'NR==1 { print $3 }') (nbthread: one per CPU); no UDP"
stop_pid "${pids[-1]}"
unset 'pids[-1]'
else skip haproxy-tcp; fi

# (d) the floor of a DPDK application on these ports: macfwd (crates/dpdk/examples/macfwd.rs)
# on net_af_packet lb-c and lb-s, set up as dpvsd is (the lb kernel's addresses flushed and its
# copy of each frame dropped, TX checksum offload off on the senders), forwarding by a static
# table of next-hop MACs and nothing else; the client talks to the real servers directly, as
# for kernel-routing. Static neighbours stand in for ARP, which macfwd does not answer.
mac_of() { ip -n "$1" -o link show "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }
if wanted dpdk-macfwd; then
  ip -n "$NS_LB" addr flush dev lb-c
  ip -n "$NS_LB" addr flush dev lb-s
  kdrop_on
  tx_csum off
  hops=()
  for i in $(seq 2 9); do hops+=("10.90.1.$i=$(mac_of "$NS_C" cl0)@0"); done
  nsx "$NS_C" ip neigh replace 10.90.1.1 lladdr "$(mac_of "$NS_LB" lb-c)" dev cl0
  for i in $(seq 0 $((N - 1))); do
    hops+=("$(rs_ip "$i")=$(mac_of "$(rs_ns "$i")" eth0)@1")
    nsx "$(rs_ns "$i")" ip neigh replace 10.90.2.1 lladdr "$(mac_of "$NS_LB" lb-s)" dev eth0
  done
  # a timer slack of 1 µs, as dpvsd sets for its workers (sleeps end within 1 µs of their
  # time, not 50 µs): set before the exec, kept by it and inherited by every lcore's thread
  start "$NS_LB" sh -c 'echo 1000 >/proc/self/timerslack_ns && exec "$@"' macfwd \
    target/release/examples/macfwd $([ "${MACFWD_BUSY:-0}" = 1 ] && echo --busy) \
    --queues "${MACFWD_QUEUES:-1}" lb-c lb-s "${hops[@]}"
  macfwd_pid=${pids[-1]}
  wait_for "macfwd" nsx "$NS_C" curl -sf --max-time 1 "http://$(rs_ip 0)/"
  measure dpdk-macfwd "http://$(rs_ip 0)/" "http://$(rs_ip 1)/" -- "$(rs_ip 0):5201" "$(rs_ip 1):5201"
  busy_note=
  [ "${MACFWD_BUSY:-0}" = 1 ] && busy_note=", busy poll"
  NOTE[dpdk-macfwd]="no balancer: MAC rewrite only, ${MACFWD_QUEUES:-1} lcore(s)$busy_note; the floor for dpvsd's rows"
  stop_pid "$macfwd_pid"
  unset 'pids[-1]'
  rm -rf "/var/run/dpdk/macfwd-$macfwd_pid"
  nsx "$NS_LB" nft delete table netdev dpvsb_kdrop
  [ "$TX_OFF_ALL" = 1 ] || tx_csum on
  nsx "$NS_C" ip neigh del 10.90.1.1 dev cl0
  for i in $(seq 0 $((N - 1))); do nsx "$(rs_ns "$i")" ip neigh del 10.90.2.1 dev eth0; done
  ip -n "$NS_LB" addr add 10.90.1.1/24 dev lb-c
  ip -n "$NS_LB" addr add 10.90.2.1/24 dev lb-s
else skip dpdk-macfwd; fi

for mode in fullnat nat; do
  row=dpvsd-$mode
  if ! wanted "$row"; then
    skip "$row"
  elif dpvsd_setup "$mode"; then
    measure "$row" "http://$VIP_DPVSD/" -- "$VIP_DPVSD:5201" "$VIP_DPVSD:5202"
    NOTE[$row]="dpvsd $mode; $DPVSD_WORKERS worker(s); idle_sleep_us $DPVSD_IDLE_US; burst $DPVSD_BURST${DPVSD_AFP:+; $DPVSD_AFP}"
    dpvsd_teardown
  else
    dpvsd_teardown
    CPS[$row]=$FAILED RPS[$row]= PPS[$row]= PPSR[$row]= NOTE[$row]=
  fi
done

# ---- report -----------------------------------------------------------------------------
echo
echo "netns-compare: $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) cores, ${duration} s per figure, unpinned"
echo "load average before: $load_before, after: $(cut -d" " -f1-3 /proc/loadavg) (other work on the machine skews every figure)"
fmt='%-16s %12s %18s %15s %15s  %s\n'
printf "$fmt" path "new conn/s" "req/s keep-alive" "UDP fwd pkt/s" "UDP rcv pkt/s" notes
echo "path,new_conn_per_s,req_per_s_keepalive,udp_fwd_pkt_per_s,udp_rcv_pkt_per_s,notes" >"$out"
for row in "${ROWS[@]}"; do
  if [ "${CPS[$row]}" = "$SKIPPED" ] || [ "${CPS[$row]}" = "$FAILED" ]; then
    printf '%-16s %s\n' "$row" "${CPS[$row]}"
    echo "$row,,,,,${CPS[$row]}" >>"$out"
  else
    printf "$fmt" "$row" "${CPS[$row]}" "${RPS[$row]}" "${PPS[$row]}" "${PPSR[$row]}" "${NOTE[$row]}"
    echo "$row,${CPS[$row]},${RPS[$row]},${PPS[$row]},${PPSR[$row]},${NOTE[$row]//,/;}" >>"$out"
  fi
done
echo "CSV: $out"

plot_csv "$out" "$plot"
