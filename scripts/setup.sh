#!/usr/bin/env bash
# Installs everything dpvs-rs needs to build and test on a fresh Debian 12 machine.
# Idempotent; run as root (CI runs it as root).
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config clang libclang-dev
  # the real clients dpvsd must satisfy, and their libraries
  ipvsadm keepalived libnl-3-200 libnl-genl-3-200
  # DPDK 22.11 for the dataplane (dpdk-sys binds it)
  libdpdk-dev dpdk
  # test tools: namespaces, capabilities, traffic ends
  iproute2 util-linux libcap2-bin procps curl python3 ethtool iputils-ping
  # netns testbed and bench/netns-compare.sh: real servers, balancers, load generators, plot
  nftables nginx haproxy wrk iperf3 gnuplot-nox
  # packages (scripts/package.sh, tests/tests/packages.rs): lint, rpm queries, unit checks
  lintian rpm systemd
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as keepalived, nginx and haproxy start their services when
  # installed; the tests start their own instances on their own addresses, so
  # deny service starts for the duration of the install (Debian's policy-rc.d).
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# keepalived's package starts its service on install; the tests start their own instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet keepalived 2>/dev/null; then
  systemctl stop keepalived || true
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi

# Packaging tools for scripts/package.sh, pinned; skipped when that version is installed.
install_cargo_tool() {
  local name=$1 version=$2
  if "$name" --version 2>/dev/null | grep -qx "$name $version"; then
    return
  fi
  cargo install --locked "$name" --version "$version"
}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
install_cargo_tool cargo-deb 3.8.0
install_cargo_tool cargo-generate-rpm 0.21.1
