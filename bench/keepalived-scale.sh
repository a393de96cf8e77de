#!/usr/bin/env bash
# keepalived scale benchmark (not a test): Debian's unmodified keepalived 2.2.7, through the
# shim, configures a release dpvsd with N virtual servers of 4 real servers each (TCP_CHECK on
# a handful of listening TCP ports, reused by every virtual server). Reports the time from
# keepalived's start until `ipvsadm -Ln` (Debian's, through the shim) shows all N x 4 real
# servers, then the time from SIGTERM until keepalived has removed everything.
# Target for 1,000 x 4: < 10 s.
#
#   bench/keepalived-scale.sh [VIRTUAL_SERVERS]
#   ALPHA=1 bench/keepalived-scale.sh    # `alpha`: a real server joins only after its first
#                                          successful TCP_CHECK (4,000 checks before "done");
#                                          keepalived spreads first checks over delay_loop
#   DELAY_LOOP=S                           delay_loop of every virtual server (default 10)
#   WARMUP=S                               warmup of every virtual server (keepalived's
#                                          default: delay_loop); ALPHA=1 WARMUP=0 checks all
#                                          4,000 real servers at once
#
# Needs root, /usr/sbin/keepalived and /usr/sbin/ipvsadm (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
vs=${1:-1000}
rs_per_vs=4
alpha=${ALPHA:-0}
delay_loop=${DELAY_LOOP:-10}
warmup=${WARMUP:-}
[ "$(id -u)" -eq 0 ] || { echo "needs root (keepalived and ipvsadm as root)" >&2; exit 1; }

cargo build --release -q -p dpvsd -p ipvs-netlink-shim
work=$(mktemp -d /tmp/dpvs-ka-bench.XXXXXX)
dpvsd_pid= servers_pid= ka_pid=
stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
  local p=$1 i
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  stop_pid "$ka_pid"
  # The checker child, if the parent went first without taking it along.
  if [ -s "$work/checkers.pid" ]; then stop_pid "$(cat "$work/checkers.pid")"; fi
  stop_pid "$servers_pid"
  stop_pid "$dpvsd_pid"
  rm -rf "$work"
}
trap cleanup EXIT

# The real servers: 4 TCP ports on 127.0.90.1 that accept and close.
python3 - "$rs_per_vs" > "$work/servers.log" 2>&1 <<'PY' &
import selectors, socket, sys
sel = selectors.DefaultSelector()
for i in range(int(sys.argv[1])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.90.1", 9001 + i))
    s.listen(1024)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except BlockingIOError:
            pass
PY
servers_pid=$!

python3 - "$vs" "$rs_per_vs" "$alpha" "$delay_loop" "$warmup" > "$work/keepalived.conf" <<'PY'
import sys
n, m, alpha, delay, warmup = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4]), sys.argv[5]
out = ["global_defs {", "  router_id dpvs-bench", "}"]
for i in range(n):
    vip = f"10.90.{(i >> 8) & 255}.{i & 255}"
    out += [f"virtual_server {vip} 80 {{", f"  delay_loop {delay}", "  lb_algo wlc", "  lb_kind NAT",
            "  protocol TCP"] + (["  alpha"] if alpha else []) + ([f"  warmup {warmup}"] if warmup else [])
    for j in range(m):
        out += [f"  real_server 127.0.90.1 {9001 + j} {{", "    weight 1",
                "    TCP_CHECK {", "      connect_timeout 3", "    }", "  }"]
    out.append("}")
print("\n".join(out))
PY

target/release/dpvsd --ipvs-socket "$work/ipvs.sock" --state-dir "$work/state" --log-level warn \
  2> "$work/dpvsd.log" &
dpvsd_pid=$!
for _ in $(seq 100); do [ -S "$work/ipvs.sock" ] && grep -q listening "$work/servers.log" && break; sleep 0.05; done

shim="$PWD/target/release/libipvs_netlink_shim.so"
ipvsadm() { LD_PRELOAD="$shim" DPVSD_IPVS_SOCKET="$work/ipvs.sock" /usr/sbin/ipvsadm "$@"; }
count_dests() { ipvsadm -Ln | grep -c ' -> [0-9]' || true; }
count_services() { ipvsadm -Ln | grep -c '^TCP ' || true; }
want=$((vs * rs_per_vs))

t0=$(date +%s.%N)
LD_PRELOAD="$shim" DPVSD_IPVS_SOCKET="$work/ipvs.sock" \
  /usr/sbin/keepalived -n -l -G -C -f "$work/keepalived.conf" -p "$work/keepalived.pid" \
  -c "$work/checkers.pid" -r "$work/vrrp.pid" > "$work/keepalived.log" 2>&1 &
ka_pid=$!
polls=0
while :; do
  got=$(count_dests); polls=$((polls + 1))
  [ "$got" -ge "$want" ] && break
  kill -0 "$ka_pid" 2>/dev/null || { echo "keepalived exited; log:" >&2; tail -20 "$work/keepalived.log" >&2; exit 1; }
  [ "$(echo "$(date +%s.%N) - $t0 > 120" | bc)" -eq 1 ] && { echo "only $got of $want real servers after 120 s" >&2; exit 1; }
  sleep 0.1
done
t1=$(date +%s.%N)
services=$(count_services)
[ "$services" -eq "$vs" ] || { echo "listing has $services services, expected $vs" >&2; exit 1; }
l0=$(date +%s.%N); ipvsadm -Ln > /dev/null; l1=$(date +%s.%N)

kill -TERM "$ka_pid"
while [ "$(count_services)" -gt 0 ]; do
  [ "$(echo "$(date +%s.%N) - $t1 > 120" | bc)" -eq 1 ] && { echo "table not empty 120 s after SIGTERM" >&2; exit 1; }
  sleep 0.1
done
t2=$(date +%s.%N)
wait "$ka_pid" 2>/dev/null || true; ka_pid=

mode=$([ "$alpha" = 1 ] && echo "alpha: each real server after its first TCP_CHECK, delay_loop $delay_loop s, warmup ${warmup:-$delay_loop} s" || echo "default: real servers up at start, TCP_CHECK every $delay_loop s")
printf 'keepalived, %d virtual servers x %d real servers (%s)\n' "$vs" "$rs_per_vs" "$mode"
printf 'start -> ipvsadm -Ln shows all %d real servers: %.2f s (%d polls of ipvsadm -Ln)\n' "$want" "$(echo "$t1 - $t0" | bc)" "$polls"
printf 'one ipvsadm -Ln of that table:                    %.2f s\n' "$(echo "$l1 - $l0" | bc)"
printf 'SIGTERM -> table empty:                           %.2f s\n' "$(echo "$t2 - $t1" | bc)"
