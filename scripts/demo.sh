#!/usr/bin/env bash
# A working demo on a fresh Debian 12 machine (run as root):
# builds dpvs-rs, starts dpvsd, configures it with Debian's unmodified ipvsadm
# through the shim, lists the table, restarts dpvsd to show that the table
# survives, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (ipvsadm needs CAP_NET_ADMIN, as with kernel IPVS)" >&2; exit 1; }
bash scripts/setup.sh
cargo build --release -q -p dpvsd -p ipvs-netlink-shim

work=$(mktemp -d /tmp/dpvs-demo.XXXXXX)
sock="$work/ipvs.sock"
pid=
stop_dpvsd() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap 'stop_dpvsd; rm -rf "$work"' EXIT
start_dpvsd() {
  target/release/dpvsd --ipvs-socket "$sock" --state-dir "$work/state" --log-level warn &
  pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
  echo "demo: dpvsd did not start" >&2; exit 1
}
ipvsadm() {
  echo "# ipvsadm $*" >&2
  LD_PRELOAD="$PWD/target/release/libipvs_netlink_shim.so" DPVSD_IPVS_SOCKET="$sock" /usr/sbin/ipvsadm "$@"
}

start_dpvsd
ipvsadm -A -t 10.0.0.1:80 -s rr
ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.10:80 -m -w 2
ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.11:80 -m -w 1
ipvsadm -A -u 10.0.0.2:53 -s wlc -p 300 -M 255.255.255.0
ipvsadm -a -u 10.0.0.2:53 -r 192.168.1.20:53 -g
ipvsadm -A -t '[2001:db8::1]:443' -s mh -b mh-port
ipvsadm -a -t '[2001:db8::1]:443' -r '[2001:db8:1::10]:443' -m
ipvsadm --set 600 60 120
ipvsadm -A -t 10.0.0.1:80 -s rr || echo "(refused, as the kernel refuses it)"
ipvsadm -Ln
echo "--- restarting dpvsd: the table is restored from $work/state"
stop_dpvsd
start_dpvsd
ipvsadm -Ln
ipvsadm -L --timeout
ipvsadm -Lnc
