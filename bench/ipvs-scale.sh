#!/usr/bin/env bash
# Control-plane scale benchmark (not a test): Debian's ipvsadm, through the
# shim, restores N services with M real servers each into a release dpvsd
# (`ipvsadm -R`), then lists them (`ipvsadm -Ln`). Targets for 10,000 x 10:
# restore < 10 s, listing < 1 s. Then the same rules again with ipvsadm-compat
# (dpvsd's socket directly, no shim) into a fresh dpvsd: `ipvsadm-compat -R` and
# `ipvsadm-compat -Ln`, whose listing must equal ipvsadm's byte for byte.
#
#   bench/ipvs-scale.sh [SERVICES] [DESTS_PER_SERVICE]
set -euo pipefail
cd "$(dirname "$0")/.."
services=${1:-10000}
dests=${2:-10}

cargo build --release -q -p dpvsd -p ipvs-netlink-shim -p ipvsadm-compat
work=$(mktemp -d /tmp/dpvs-bench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
stop_dpvsd() { kill "$pid" && wait "$pid" 2>/dev/null || true; pid=; }
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

# ipvsadm-compat: the same rules into a fresh dpvsd, on one socket for the whole restore.
stop_dpvsd
target/release/dpvsd --ipvs-socket "$work/ipvs2.sock" --state-dir "$work/state2" --log-level warn &
pid=$!
for _ in $(seq 100); do [ -S "$work/ipvs2.sock" ] && break; sleep 0.05; done
export DPVSD_IPVS_SOCKET="$work/ipvs2.sock"
t3=$(date +%s.%N)
target/release/ipvsadm-compat -R < "$work/rules"
t4=$(date +%s.%N)
target/release/ipvsadm-compat -Ln > "$work/list2"
t5=$(date +%s.%N)
cmp -s "$work/list" "$work/list2" ||
  { echo "ipvsadm-compat -Ln differs from ipvsadm -Ln" >&2; diff "$work/list" "$work/list2" | head >&2; exit 1; }
printf 'ipvsadm-compat -R  (same lines):                  %.2f s\n' "$(echo "$t4 - $t3" | bc)"
printf 'ipvsadm-compat -Ln (same listing as ipvsadm):     %.2f s\n' "$(echo "$t5 - $t4" | bc)"
