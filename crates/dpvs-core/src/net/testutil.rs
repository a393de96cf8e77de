//! Test helpers: a hex decoder for byte-exact fixtures and a small snapshot.

use core::net::IpAddr;

use dpvs_wire::EthernetAddress;

use super::{LocalAddr, NeighTable, NetSnapshot, PortInfo, RouteTable};

/// Decodes hex digits, skipping anything else (spaces); fails to compile on a length other
/// than `N`.
pub(crate) const fn decode<const N: usize>(s: &str) -> [u8; N] {
    let b = s.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut n, mut hi) = (0, 0, 0u8);
    let mut half = false;
    while i < b.len() {
        let c = b[i];
        i += 1;
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => continue,
        };
        if half {
            assert!(n < N, "hex: too many bytes");
            out[n] = hi << 4 | v;
            n += 1;
        } else {
            hi = v;
        }
        half = !half;
    }
    assert!(n == N && !half, "hex: too few bytes");
    out
}

/// `hex!("0806" "0001")`: the bytes, as an array whose length is inferred.
macro_rules! hex {
    ($($s:literal)*) => {
        $crate::net::testutil::decode(concat!($($s),*))
    };
}
pub(crate) use hex;

/// dpdk0's MAC.
pub(crate) const PORT0_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x10]);
/// dpdk1's MAC.
pub(crate) const PORT1_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x11]);
/// The client's MAC.
pub(crate) const CLIENT_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The VIPs: 10.0.0.100 and 2001:db8::100.
pub(crate) fn vip(a: IpAddr) -> bool {
    a == ip("10.0.0.100") || a == ip("2001:db8::100")
}

/// Port 0 `dpdk0` with 10.0.0.1/24 and 2001:db8::1/64, port 1 `dpdk1` with 10.1.0.1/24.
pub(crate) fn snapshot_with(neigh: NeighTable) -> NetSnapshot {
    let ports = vec![
        PortInfo {
            id: 0,
            name: "dpdk0".into(),
            mac: PORT0_MAC,
            mtu: 1500,
        },
        PortInfo {
            id: 1,
            name: "dpdk1".into(),
            mac: PORT1_MAC,
            mtu: 1500,
        },
    ];
    let addrs = vec![
        LocalAddr {
            addr: ip("10.0.0.1"),
            len: 24,
            port: 0,
        },
        LocalAddr {
            addr: ip("2001:db8::1"),
            len: 64,
            port: 0,
        },
        LocalAddr {
            addr: ip("10.1.0.1"),
            len: 24,
            port: 1,
        },
    ];
    let mut routes = RouteTable::new();
    for a in &addrs {
        routes.insert_addr(a.addr, a.len, a.port).unwrap();
    }
    NetSnapshot::new(1, ports, addrs, routes, neigh)
}

/// [`snapshot_with`] an empty neighbour table.
pub(crate) fn snapshot() -> NetSnapshot {
    snapshot_with(NeighTable::new())
}
