//! IP-in-IP encapsulation for the tunnel forwarding method (IPv4 protocol 4, IPv6-in-IPv4
//! protocol 41; RFC 2003, RFC 4213) and decapsulation.
//!
//! The encapsulation helpers work in place: the buffer holds room for the outer header
//! followed by the inner packet, as an mbuf with enough headroom does after a prepend.

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::ipv4::{self, Ipv4Repr};
use crate::ipv6::{self, Ipv6Repr};
use crate::{ChecksumMode, Error, IpProtocol, Result};

/// Length of an outer IPv4 header (no options).
pub const OUTER_IPV4_LEN: usize = ipv4::HEADER_LEN;
/// Length of an outer IPv6 header.
pub const OUTER_IPV6_LEN: usize = ipv6::HEADER_LEN;

/// Fields of an outer IPv4 header chosen by the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Outer {
    /// Tunnel source (a local address).
    pub src_addr: Ipv4Addr,
    /// Tunnel destination (the real server).
    pub dst_addr: Ipv4Addr,
    /// TTL of the outer header.
    pub hop_limit: u8,
    /// Identification of the outer header.
    pub ident: u16,
}

/// Fields of an outer IPv6 header chosen by the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Outer {
    /// Tunnel source.
    pub src_addr: Ipv6Addr,
    /// Tunnel destination.
    pub dst_addr: Ipv6Addr,
    /// Hop limit of the outer header.
    pub hop_limit: u8,
    /// Flow label (20 bits), e.g. a hash of the inner flow.
    pub flow_label: u32,
}

/// What the outer header copies from the inner packet.
struct Inner {
    protocol: IpProtocol,
    dscp_ecn: u8,
    dont_frag: bool,
}

fn inspect_inner(inner: &[u8]) -> Result<Inner> {
    match inner.first().map(|b| b >> 4) {
        Some(4) => {
            let p = ipv4::Packet::new_checked_header(inner)?;
            Ok(Inner { protocol: IpProtocol::IPIP, dscp_ecn: p.dscp_ecn(), dont_frag: p.dont_frag() })
        }
        Some(6) => {
            let p = ipv6::Packet::new_checked_header(inner)?;
            // An IPv6 packet may not be fragmented on the way: keep the outer header whole too.
            Ok(Inner { protocol: IpProtocol::IPV6, dscp_ecn: p.traffic_class(), dont_frag: true })
        }
        Some(_) => Err(Error::Malformed),
        None => Err(Error::Truncated),
    }
}

/// Encapsulates in IPv4, in place.
///
/// `buf[..20]` receives the outer header; the inner IPv4 or IPv6 packet is
/// `buf[20..20 + inner_len]`. The outer protocol is 4 or 41 after the inner version, DSCP/ECN
/// are copied from the inner header, DF is copied from an inner IPv4 header (set for inner
/// IPv6), and the header checksum is filled. Returns the outer packet's length.
pub fn encap_ipv4(buf: &mut [u8], inner_len: usize, outer: &Ipv4Outer) -> Result<usize> {
    let total = OUTER_IPV4_LEN + inner_len;
    if buf.len() < total {
        return Err(Error::BufferTooSmall);
    }
    if total > usize::from(u16::MAX) {
        return Err(Error::Malformed);
    }
    let inner = inspect_inner(&buf[OUTER_IPV4_LEN..total])?;
    let repr = Ipv4Repr {
        src_addr: outer.src_addr,
        dst_addr: outer.dst_addr,
        next_header: inner.protocol,
        payload_len: inner_len,
        hop_limit: outer.hop_limit,
        dscp_ecn: inner.dscp_ecn,
        ident: outer.ident,
        dont_frag: inner.dont_frag,
        more_frags: false,
        frag_offset: 0,
    };
    repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..OUTER_IPV4_LEN]))?;
    Ok(total)
}

/// Encapsulates in IPv6, in place: `buf[..40]` receives the outer header, the inner packet is
/// `buf[40..40 + inner_len]`. Next header 4 or 41, traffic class copied. Returns the outer
/// packet's length.
pub fn encap_ipv6(buf: &mut [u8], inner_len: usize, outer: &Ipv6Outer) -> Result<usize> {
    let total = OUTER_IPV6_LEN + inner_len;
    if buf.len() < total {
        return Err(Error::BufferTooSmall);
    }
    let inner = inspect_inner(&buf[OUTER_IPV6_LEN..total])?;
    let repr = Ipv6Repr {
        src_addr: outer.src_addr,
        dst_addr: outer.dst_addr,
        next_header: inner.protocol,
        payload_len: inner_len,
        hop_limit: outer.hop_limit,
        traffic_class: inner.dscp_ecn,
        flow_label: outer.flow_label,
    };
    repr.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..OUTER_IPV6_LEN]))?;
    Ok(total)
}

/// Decapsulates an IPv4 tunnel packet: checks the outer header (checksum per `mode`),
/// refuses fragments (`Unsupported`: reassemble first) and protocols other than 4 and 41
/// (`Unsupported`), checks that the inner version matches the protocol (`Malformed`), and
/// returns the inner protocol and packet.
pub fn decap_ipv4(outer: &[u8], mode: ChecksumMode) -> Result<(IpProtocol, &[u8])> {
    let p = ipv4::Packet::new_checked(outer)?;
    let repr = Ipv4Repr::parse(&p, mode)?;
    if repr.is_fragment() {
        return Err(Error::Unsupported);
    }
    let inner = crate::clamp(outer, p.header_len(), usize::from(p.total_len()));
    check_inner(repr.next_header, inner)
}

/// Decapsulates an IPv6 tunnel packet whose first next header is 4 or 41 (extension headers
/// before the inner packet are `Unsupported`).
pub fn decap_ipv6(outer: &[u8]) -> Result<(IpProtocol, &[u8])> {
    let p = ipv6::Packet::new_checked(outer)?;
    let repr = Ipv6Repr::parse(&p)?;
    let inner = crate::clamp(outer, ipv6::HEADER_LEN, ipv6::HEADER_LEN + repr.payload_len);
    check_inner(repr.next_header, inner)
}

fn check_inner(proto: IpProtocol, inner: &[u8]) -> Result<(IpProtocol, &[u8])> {
    let want = match proto {
        IpProtocol::IPIP => 4,
        IpProtocol::IPV6 => 6,
        _ => return Err(Error::Unsupported),
    };
    match inner.first() {
        Some(b) if b >> 4 == want => Ok((proto, inner)),
        Some(_) => Err(Error::Malformed),
        None => Err(Error::Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The ipv4 module's fixture (DF set) inside 10.1.1.1 -> 10.2.2.2, TTL 64, id 1
    // (scapy-checked).
    static ENCAP4: [u8; 44] = [
        0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x04, 0x23, 0xc8, 0x0a, 0x01, 0x01,
        0x01, 0x0a, 0x02, 0x02, 0x02, 0x45, 0x00, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01,
        0x5c, 0xfe, 0xc0, 0xa8, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    // Outer IPv6 header 2001:db8::a -> 2001:db8::b, next header 4, hop limit 64.
    static OUTER6: [u8; 40] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x04, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b,
    ];

    fn outer4() -> Ipv4Outer {
        Ipv4Outer { src_addr: Ipv4Addr::new(10, 1, 1, 1), dst_addr: Ipv4Addr::new(10, 2, 2, 2), hop_limit: 64, ident: 1 }
    }

    fn inner4() -> [u8; 24] {
        ENCAP4[20..].try_into().unwrap()
    }

    #[test]
    fn test_construct_ipv4() {
        let mut buf = [0xffu8; 44];
        buf[20..].copy_from_slice(&inner4());
        assert_eq!(encap_ipv4(&mut buf, 24, &outer4()).unwrap(), 44);
        assert_eq!(buf, ENCAP4);
    }

    #[test]
    fn test_df_and_tos_copied() {
        let mut inner = inner4();
        {
            let mut p = ipv4::Packet::new_unchecked(&mut inner[..]);
            p.set_dont_frag(false);
            p.set_dscp_ecn(0xb8);
            p.fill_checksum();
        }
        let mut buf = [0u8; 44];
        buf[20..].copy_from_slice(&inner);
        encap_ipv4(&mut buf, 24, &outer4()).unwrap();
        let p = ipv4::Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.dont_frag());
        assert_eq!(p.dscp_ecn(), 0xb8);
        assert!(p.verify_checksum());
    }

    #[test]
    fn test_ipv6_inner_and_outer() {
        // IPv6 inner in IPv4: protocol 41, DF set, traffic class copied.
        let mut buf = [0u8; 20 + 48];
        buf[20] = 0x6b; // version 6, traffic class 0xb0
        buf[21] = 0x00;
        buf[25] = 8; // payload length 8
        encap_ipv4(&mut buf, 48, &outer4()).unwrap();
        let p = ipv4::Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.next_header(), IpProtocol::IPV6);
        assert!(p.dont_frag());
        assert_eq!(p.dscp_ecn(), 0xb0);
        assert_eq!(decap_ipv4(&buf, ChecksumMode::Verify).unwrap(), (IpProtocol::IPV6, &buf[20..]));

        // IPv4 inner in IPv6.
        let mut buf = [0u8; 64];
        buf[40..].copy_from_slice(&inner4());
        let o = Ipv6Outer {
            src_addr: "2001:db8::a".parse().unwrap(),
            dst_addr: "2001:db8::b".parse().unwrap(),
            hop_limit: 64,
            flow_label: 0,
        };
        assert_eq!(encap_ipv6(&mut buf, 24, &o).unwrap(), 64);
        assert_eq!(&buf[..40], &OUTER6[..]);
        assert_eq!(decap_ipv6(&buf).unwrap(), (IpProtocol::IPIP, &inner4()[..]));
    }

    #[test]
    fn test_decap() {
        let (proto, inner) = decap_ipv4(&ENCAP4, ChecksumMode::Verify).unwrap();
        assert_eq!(proto, IpProtocol::IPIP);
        assert_eq!(inner, &ENCAP4[20..]);
        // Not a tunnel.
        assert_eq!(decap_ipv4(&ENCAP4[20..], ChecksumMode::Verify), Err(Error::Unsupported));
        // Version mismatch.
        let mut buf = ENCAP4;
        buf[20] = 0x65;
        assert_eq!(decap_ipv4(&buf, ChecksumMode::Verify), Err(Error::Malformed));
        // Fragmented outer packet.
        let mut buf = ENCAP4;
        {
            let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
            p.set_more_frags(true);
            p.fill_checksum();
        }
        assert_eq!(decap_ipv4(&buf, ChecksumMode::Verify), Err(Error::Unsupported));
        // Bad outer checksum.
        let mut buf = ENCAP4;
        buf[11] ^= 0xff;
        assert_eq!(decap_ipv4(&buf, ChecksumMode::Verify), Err(Error::Checksum));
    }

    #[test]
    fn test_truncated() {
        for len in 0..ENCAP4.len() {
            assert!(decap_ipv4(&ENCAP4[..len], ChecksumMode::Verify).is_err());
        }
        // Outer header says there is no inner packet.
        let mut buf = [0u8; 20];
        buf.copy_from_slice(&ENCAP4[..20]);
        {
            let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
            p.set_total_len(20);
            p.fill_checksum();
        }
        assert_eq!(decap_ipv4(&buf, ChecksumMode::Verify), Err(Error::Truncated));
        // Encapsulation errors.
        let mut small = [0u8; 43];
        small[20..].copy_from_slice(&inner4()[..23]);
        assert_eq!(encap_ipv4(&mut small, 24, &outer4()), Err(Error::BufferTooSmall));
        let mut buf = [0u8; 44];
        assert_eq!(encap_ipv4(&mut buf, 0, &outer4()), Err(Error::Truncated));
        assert_eq!(encap_ipv4(&mut buf, 24, &outer4()), Err(Error::Malformed)); // version 0
        buf[20] = 0x45;
        assert_eq!(encap_ipv4(&mut buf, 10, &outer4()), Err(Error::Truncated)); // inner header cut
        let mut huge = vec![0u8; 70000];
        huge[20] = 0x45;
        assert_eq!(encap_ipv4(&mut huge, 65516, &outer4()), Err(Error::Malformed));
    }

    proptest! {
        #[test]
        fn encap_decap_roundtrip(payload in proptest::collection::vec(any::<u8>(), 0..64), ttl in any::<u8>(), id in any::<u16>(), df in any::<bool>()) {
            let inner_repr = Ipv4Repr {
                src_addr: Ipv4Addr::new(1, 2, 3, 4), dst_addr: Ipv4Addr::new(5, 6, 7, 8),
                next_header: IpProtocol::UDP, payload_len: payload.len(), hop_limit: 9,
                dscp_ecn: 0, ident: 0, dont_frag: df, more_frags: false, frag_offset: 0,
            };
            let inner_len = 20 + payload.len();
            let mut buf = vec![0u8; 20 + inner_len];
            inner_repr.emit(&mut ipv4::Packet::new_unchecked(&mut buf[20..40])).unwrap();
            buf[40..].copy_from_slice(&payload);
            let outer = Ipv4Outer { hop_limit: ttl, ident: id, ..outer4() };
            let n = encap_ipv4(&mut buf, inner_len, &outer).unwrap();
            let (proto, inner) = decap_ipv4(&buf[..n], ChecksumMode::Verify).unwrap();
            prop_assert_eq!(proto, IpProtocol::IPIP);
            let p = ipv4::Packet::new_checked(inner).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&p, ChecksumMode::Verify).unwrap(), inner_repr);
            prop_assert_eq!(ipv4::Packet::new_checked(&buf[..]).unwrap().dont_frag(), df);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100), len in 0usize..120) {
            let _ = decap_ipv4(&data, ChecksumMode::Ignore);
            let _ = decap_ipv6(&data);
            let mut d = data.clone();
            let _ = encap_ipv4(&mut d, len, &outer4());
            let _ = encap_ipv6(&mut d, len, &Ipv6Outer {
                src_addr: Ipv6Addr::LOCALHOST, dst_addr: Ipv6Addr::LOCALHOST, hop_limit: 1, flow_label: 0,
            });
        }
    }
}
