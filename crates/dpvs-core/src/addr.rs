//! Addresses as the connection table stores them: a `u128` plus an IPv6 flag.
//!
//! An IPv4 address is its 32-bit value in the low bits; an IPv6 address is its 128-bit
//! big-endian value. Comparing and hashing two `u128`s is cheaper than `IpAddr`'s tagged
//! enum, and 16 bytes per address is all an entry pays.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `(bits, is_v6)` of an address.
#[inline]
pub fn to_bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

/// The address of `bits` in family `v6`.
#[inline]
pub fn from_bits(bits: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        IpAddr::V4(Ipv4Addr::from(bits as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for ip in ["10.1.2.3", "::1", "2001:db8::7", "255.255.255.255"] {
            let ip: IpAddr = ip.parse().unwrap();
            let (b, v6) = to_bits(ip);
            assert_eq!(from_bits(b, v6), ip);
        }
    }
}
