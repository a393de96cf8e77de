#!/usr/bin/env bash
# Builds dpvs-rs's two packages into target/packages/:
#   dpvs_<version>-1_amd64.deb   (cargo-deb)
#   dpvs-<version>-1.x86_64.rpm  (cargo-generate-rpm)
# <version> is the workspace's version in Cargo.toml. The package metadata is in
# dpvsd/Cargo.toml ([package.metadata.deb] and [package.metadata.generate-rpm]); the files
# the two packages differ in (shim path, ipvsadm wrapper, keepalived drop-in), the rpm's
# stripped binaries and man pages, and the Debian changelog are generated here into
# target/packages/stage/. Needs cargo-deb, cargo-generate-rpm and strip: scripts/setup.sh
# installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

for tool in cargo-deb cargo-generate-rpm strip gzip python3; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package: $tool is missing; run scripts/setup.sh (as root) first" >&2
    exit 1
  fi
done

version=$(cargo pkgid -p dpvsd | sed 's/.*[#@]//')
target_dir=$(cargo metadata --no-deps --format-version 1 |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out=$root/target/packages
stage=$out/stage
deb_shim=/usr/lib/x86_64-linux-gnu/dpvs/libipvs_netlink_shim.so
rpm_shim=/usr/lib64/dpvs/libipvs_netlink_shim.so
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

echo "package: building dpvs $version (release)" >&2
cargo build --release -p dpvsd -p ipvsadm-compat -p dpip -p ipvs-netlink-shim

rm -rf "$stage"
mkdir -p "$stage/deb" "$stage/rpm"
rm -f "$out"/dpvs_*.deb "$out"/dpvs-*.rpm

# The ipvsadm wrapper as committed is the Debian one: Debian's ipvsadm is diverted to
# /sbin/ipvsadm.kernel and the wrapper takes its place. On RPM systems nothing is diverted:
# the wrapper is dpvs-ipvsadm and runs /usr/sbin/ipvsadm.
sed -e "s|^shim=$deb_shim\$|shim=$rpm_shim|" -e "s|^real=/sbin/ipvsadm.kernel\$|real=/usr/sbin/ipvsadm|" \
  packaging/ipvsadm > "$stage/rpm/dpvs-ipvsadm"
grep -q "^shim=$rpm_shim\$" "$stage/rpm/dpvs-ipvsadm"
grep -q "^real=/usr/sbin/ipvsadm\$" "$stage/rpm/dpvs-ipvsadm"
chmod 755 "$stage/rpm/dpvs-ipvsadm"

# The keepalived drop-in as committed preloads the Debian path; the rpm's preloads lib64.
sed -e "s|^Environment=LD_PRELOAD=$deb_shim\$|#Environment=LD_PRELOAD=$deb_shim|" \
    -e "s|^#Environment=LD_PRELOAD=$rpm_shim\$|Environment=LD_PRELOAD=$rpm_shim|" \
    packaging/keepalived/dpvs.conf > "$stage/rpm/keepalived-dpvs.conf"
for f in packaging/keepalived/dpvs.conf "$stage/rpm/keepalived-dpvs.conf"; do
  if [ "$(grep -c '^Environment=LD_PRELOAD=' "$f")" != 1 ]; then
    echo "package: $f must have exactly one active Environment=LD_PRELOAD= line" >&2
    exit 1
  fi
done
grep -q "^Environment=LD_PRELOAD=$deb_shim\$" packaging/keepalived/dpvs.conf
grep -q "^Environment=LD_PRELOAD=$rpm_shim\$" "$stage/rpm/keepalived-dpvs.conf"

# Debian changelog (lintian wants one); its version is the package's.
cat > "$stage/deb/changelog" <<EOF
dpvs ($version-1) unstable; urgency=medium

  * dpvs-rs $version, built from git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    by scripts/package.sh.

 -- dpvs-rs developers <dpvs-rs@example.invalid>  $(date -R -u -d "@$SOURCE_DATE_EPOCH")
EOF

# The rpm gets stripped copies (cargo-generate-rpm packages files as they are; cargo-deb
# strips its own with --strip) and gzipped man pages (cargo-deb gzips its own).
for f in dpvsd ipvsadm-compat dpip libipvs_netlink_shim.so; do
  strip --strip-unneeded -o "$stage/rpm/$f" "$target_dir/release/$f"
done
for m in packaging/man/dpvsd.8 packaging/man/dpip.8 ipvsadm-compat/ipvsadm-compat.8; do
  gzip -9n < "$m" > "$stage/rpm/$(basename "$m").gz"
done

deb=$out/dpvs_${version}-1_amd64.deb
rpm=$out/dpvs-${version}-1.x86_64.rpm

cargo deb -p dpvsd --no-build --strip -o "$deb"
cargo generate-rpm -p dpvsd -o "$rpm"

# cargo-deb takes the synopsis from the dpvsd crate's description, which describes the
# daemon alone and starts with the package's name (lintian: an error); the package holds
# more than the daemon. It writes no md5sums either (dpkg --verify uses them). Both are set
# here, in a repack of the same tree.
synopsis=$(python3 -c 'import sys, tomllib; print(tomllib.load(open("dpvsd/Cargo.toml", "rb"))["package"]["metadata"]["generate-rpm"]["summary"])')
tree=$stage/deb/tree
dpkg-deb -R "$deb" "$tree"
sed -i "s|^Description: .*|Description: $synopsis|" "$tree/DEBIAN/control"
(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) > "$tree/DEBIAN/md5sums"
chmod 644 "$tree/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz -b "$tree" "$deb" >/dev/null
rm -rf "$tree"
for f in "$deb" "$rpm"; do
  if [ ! -f "$f" ]; then
    echo "package: expected $f, not found" >&2
    exit 1
  fi
done
echo "package: $deb"
echo "package: $rpm"
