#!/usr/bin/env bash
# Control-plane scale benchmark (not a test): Debian's ipvsadm, through the
# shim, restores N services with M real servers each into a release dpvsd
# (`ipvsadm -R`), then lists them (`ipvsadm -Ln`). Targets for 10,000 x 10:
# restore < 10 s, listing < 1 s.
#
#   bench/ipvs-scale.sh [SERVICES] [DESTS_PER_SERVICE]
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-10000}
dests=${2:-10}

cargo build --release -q -p dpvsd -p ipvs-netlink-shim
work=$(mktemp -d /tmp/dpvs-bench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 - "$services" "$dests" > "$work/rules" <<'PY'
import sys
n, m = int(sys.argv[1]), int(sys.argv[2])
out = []
for i in range(n):
    vip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    out.append(f"-A -t {vip}:80 -s wlc")
    for j in range(m):
        out.append(f"-a -t {vip}:80 -r 192.168.{j}.{(i % 250) + 1}:8080 -m -w {j + 1}")
print("\n".join(out))
PY

target/release/dpvsd --ipvs-socket "$work/ipvs.sock" --state-dir "$work/state" --log-level warn &
pid=$!
for _ in $(seq 100); do [ -S "$work/ipvs.sock" ] && break; sleep 0.05; done

export LD_PRELOAD="$PWD/target/release/libipvs_netlink_shim.so" DPVSD_IPVS_SOCKET="$work/ipvs.sock"
t0=$(date +%s.%N)
/usr/sbin/ipvsadm -R < "$work/rules"
t1=$(date +%s.%N)
/usr/sbin/ipvsadm -Ln > "$work/list"
t2=$(date +%s.%N)
unset LD_PRELOAD

got_s=$(grep -c '^TCP ' "$work/list")
got_d=$(grep -c ' -> [0-9]' "$work/list")
[ "$got_s" -eq "$services" ] && [ "$got_d" -eq $((services * dests)) ] ||
  { echo "listing has $got_s services and $got_d dests, expected $services and $((services * dests))" >&2; exit 1; }
printf 'ipvsadm -R  %d services x %d dests (%d lines): %.2f s\n' "$services" "$dests" "$(wc -l < "$work/rules")" "$(echo "$t1 - $t0" | bc)"
printf 'ipvsadm -Ln of the result (%d lines):            %.2f s\n' "$(wc -l < "$work/list")" "$(echo "$t2 - $t1" | bc)"
printf 'state directory after restore: %s\n' "$(du -sh "$work/state" | cut -f1)"
