//! Zero-copy packet views and `parse`/`emit` representations for the dpvs-rs dataplane.
//!
//! Every format follows the same shape (after smoltcp's `wire` module):
//!
//! * a view `Packet<T: AsRef<[u8]>>` (or `Frame`) over a byte buffer, with
//!   [`new_unchecked`](ipv4::Packet::new_unchecked), [`new_checked`](ipv4::Packet::new_checked)
//!   and `check_len`. After `new_checked` succeeds no getter can panic, whatever the bytes;
//!   variable-length accessors (options, payloads) additionally clamp to the buffer so they stay
//!   panic-free even on a view whose length fields were changed afterwards;
//! * setters when `T: AsMut<[u8]>`;
//! * a `Repr` (a plain, validated summary of the header) with `parse` and `emit` that are exact
//!   inverses: `parse(emit(repr)) == repr`.
//!
//! The crate does no I/O, no allocation, reads no clock and never panics on packet input.
//! Checksums, including RFC 1624 incremental updates for NAT rewrites, are in [`checksum`].
//!
//! # Example: classify a frame, then NAT it
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use dpvs_wire::ethernet::{EthernetRepr, Frame};
//! use dpvs_wire::{ipv4, tcp, ChecksumMode, EtherType, IpProtocol};
//!
//! # fn frame() -> Vec<u8> {
//! #     let mut b = vec![
//! #         2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, // Ethernet
//! #         0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 168, 1, 10, 10, 0, 0, 1, // IPv4
//! #         0xa8, 0xca, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
//! #     ];
//! #     ipv4::Packet::new_unchecked(&mut b[14..34]).fill_checksum();
//! #     let (s, d) = (IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
//! #     tcp::Packet::new_unchecked(&mut b[34..]).fill_checksum(s, d).unwrap();
//! #     b
//! # }
//! let mut buf = frame(); // client 192.168.1.10:43210 -> VIP 10.0.0.1:80, SYN
//!
//! // Parse: every step checks lengths first, so no accessor can panic.
//! let eth = EthernetRepr::parse(&Frame::new_checked(&buf[..])?)?;
//! assert_eq!(eth.ethertype, EtherType::IPV4);
//! let l3 = eth.header_len();
//! let ip = ipv4::Packet::new_checked(&buf[l3..])?;
//! let ip_repr = ipv4::Ipv4Repr::parse(&ip, ChecksumMode::Verify)?;
//! assert_eq!(ip_repr.next_header, IpProtocol::TCP);
//! assert!(!ip_repr.is_fragment());
//! let seg = tcp::Packet::new_checked(ip.payload())?;
//! assert!(seg.syn() && seg.dst_port() == 80);
//!
//! // NAT to the real server 172.16.0.9:8080 with incremental checksum updates.
//! let real = Ipv4Addr::new(172, 16, 0, 9);
//! let mut ip = ipv4::Packet::new_checked(&mut buf[l3..])?;
//! let vip = ip.rewrite_dst_addr(real);
//! let mut seg = tcp::Packet::new_checked(ip.payload_mut())?;
//! seg.update_checksum_addr(IpAddr::V4(vip), IpAddr::V4(real));
//! seg.rewrite_dst_port(8080);
//! seg.clamp_mss(1400)?;
//! assert!(seg.verify_checksum(IpAddr::V4(ip_repr.src_addr), IpAddr::V4(real)));
//! # Ok::<(), dpvs_wire::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipip;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

pub use ethernet::{EtherType, EthernetAddress};

use core::fmt;

/// Errors returned by every checked constructor, `parse` and `emit` in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer is shorter than the header or than a length field says.
    #[error("truncated packet")]
    Truncated,
    /// A field holds a value the format does not allow (bad version, length below minimum, ...).
    #[error("malformed packet")]
    Malformed,
    /// A checksum does not verify.
    #[error("bad checksum")]
    Checksum,
    /// Well-formed, but a variant this crate does not handle (e.g. ARP over non-Ethernet).
    #[error("unsupported packet")]
    Unsupported,
    /// The output buffer is too small for `emit`.
    #[error("buffer too small")]
    BufferTooSmall,
}

/// The result type of this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// What `parse` should do with a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// Verify it and fail with [`Error::Checksum`] if it is wrong.
    #[default]
    Verify,
    /// Do not look at it (e.g. the NIC already verified it).
    Ignore,
}

impl ChecksumMode {
    pub(crate) fn verify(self) -> bool {
        matches!(self, ChecksumMode::Verify)
    }
}

/// An IP protocol number (IPv4 `protocol`, IPv6 `next header`).
///
/// A newtype rather than an enum so that every value survives a round trip.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPv6 hop-by-hop options.
    pub const HOPOPT: IpProtocol = IpProtocol(0);
    /// ICMP for IPv4.
    pub const ICMP: IpProtocol = IpProtocol(1);
    /// IPv4 encapsulated in IP (IP-in-IP).
    pub const IPIP: IpProtocol = IpProtocol(4);
    /// TCP.
    pub const TCP: IpProtocol = IpProtocol(6);
    /// UDP.
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 encapsulated in IP.
    pub const IPV6: IpProtocol = IpProtocol(41);
    /// IPv6 routing header.
    pub const IPV6_ROUTE: IpProtocol = IpProtocol(43);
    /// IPv6 fragment header.
    pub const IPV6_FRAG: IpProtocol = IpProtocol(44);
    /// GRE.
    pub const GRE: IpProtocol = IpProtocol(47);
    /// Encapsulating security payload.
    pub const ESP: IpProtocol = IpProtocol(50);
    /// Authentication header.
    pub const AH: IpProtocol = IpProtocol(51);
    /// ICMP for IPv6.
    pub const ICMPV6: IpProtocol = IpProtocol(58);
    /// IPv6 "no next header".
    pub const IPV6_NONXT: IpProtocol = IpProtocol(59);
    /// IPv6 destination options.
    pub const IPV6_OPTS: IpProtocol = IpProtocol(60);
    /// SCTP.
    pub const SCTP: IpProtocol = IpProtocol(132);
}

impl fmt::Debug for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match *self {
            IpProtocol::HOPOPT => "hop-by-hop",
            IpProtocol::ICMP => "icmp",
            IpProtocol::IPIP => "ipip",
            IpProtocol::TCP => "tcp",
            IpProtocol::UDP => "udp",
            IpProtocol::IPV6 => "ipv6",
            IpProtocol::IPV6_ROUTE => "ipv6-route",
            IpProtocol::IPV6_FRAG => "ipv6-frag",
            IpProtocol::GRE => "gre",
            IpProtocol::ESP => "esp",
            IpProtocol::AH => "ah",
            IpProtocol::ICMPV6 => "icmpv6",
            IpProtocol::IPV6_NONXT => "ipv6-nonxt",
            IpProtocol::IPV6_OPTS => "ipv6-opts",
            IpProtocol::SCTP => "sctp",
            IpProtocol(other) => return write!(f, "proto {other}"),
        };
        f.write_str(name)
    }
}

/// Byte-range helpers shared by the `field` modules.
pub(crate) mod field {
    /// A fixed byte range inside a header.
    pub type Field = core::ops::Range<usize>;
    /// Everything from an offset on.
    pub type Rest = core::ops::RangeFrom<usize>;
}

/// Big-endian reads and writes on byte slices whose length the caller has checked.
pub(crate) mod be {
    #[inline]
    pub fn u16(b: &[u8]) -> u16 {
        u16::from_be_bytes([b[0], b[1]])
    }
    #[inline]
    pub fn u32(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    #[inline]
    pub fn put_u16(b: &mut [u8], v: u16) {
        b[..2].copy_from_slice(&v.to_be_bytes())
    }
    #[inline]
    pub fn put_u32(b: &mut [u8], v: u32) {
        b[..4].copy_from_slice(&v.to_be_bytes())
    }
}

/// `buf[start..end]` clamped to the buffer: never panics, may be shorter than asked.
#[inline]
pub(crate) fn clamp(buf: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(buf.len());
    let start = start.min(end);
    &buf[start..end]
}

/// Mutable twin of [`clamp`].
#[inline]
pub(crate) fn clamp_mut(buf: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    let end = end.min(buf.len());
    let start = start.min(end);
    &mut buf[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};

    // A whole frame, built with scapy: Ether / Dot1Q(vlan 100) / IPv4 192.168.1.10 ->
    // 10.0.0.1 (id 0x1234, DF, TTL 64) / TCP SYN 43210 -> 80 <mss 1460, sackOK, TS, nop,
    // wscale 7>.
    static CLIENT_SYN: [u8; 78] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x81, 0x00, 0x00,
        0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x5c, 0xd5,
        0xc0, 0xa8, 0x01, 0x0a, 0x0a, 0x00, 0x00, 0x01, 0xa8, 0xca, 0x00, 0x50, 0x01, 0x02, 0x03,
        0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x72, 0x31, 0x00, 0x00, 0x02, 0x04,
        0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0xbc, 0x61, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x03, 0x03, 0x07,
    ];

    // The same frame after NAT to 172.16.0.9:8080, MSS clamped to 1400, TTL decremented and
    // MACs swapped for the next hop; built from scratch with scapy.
    static TO_REAL_SERVER: [u8; 78] = [
        0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00, 0x00,
        0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x3f, 0x06, 0xbb, 0xbc,
        0xc0, 0xa8, 0x01, 0x0a, 0xac, 0x10, 0x00, 0x09, 0xa8, 0xca, 0x1f, 0x90, 0x01, 0x02, 0x03,
        0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0xb1, 0x14, 0x00, 0x00, 0x02, 0x04,
        0x05, 0x78, 0x04, 0x02, 0x08, 0x0a, 0x00, 0xbc, 0x61, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x03, 0x03, 0x07,
    ];

    /// The packet path of a NAT forwarder on a real frame, compared byte for byte with the
    /// frame scapy builds from scratch.
    #[test]
    fn nat_forward_whole_frame() {
        let mut buf = CLIENT_SYN;
        let eth = ethernet::EthernetRepr::parse(&ethernet::Frame::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(eth.vlan.map(|t| t.vid), Some(100));
        assert_eq!(eth.ethertype, EtherType::IPV4);
        let l3 = eth.header_len();

        let ip = ipv4::Packet::new_checked(&buf[l3..]).unwrap();
        let ip_repr = ipv4::Ipv4Repr::parse(&ip, ChecksumMode::Verify).unwrap();
        assert_eq!(ip_repr.next_header, IpProtocol::TCP);
        let (client, vip) = (IpAddr::V4(ip_repr.src_addr), IpAddr::V4(ip_repr.dst_addr));
        let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
        let tcp_repr = tcp::TcpRepr::parse(&seg, client, vip, ChecksumMode::Verify).unwrap();
        assert_eq!((tcp_repr.dst_port, tcp_repr.max_seg_size), (80, Some(1460)));

        let real = Ipv4Addr::new(172, 16, 0, 9);
        let mut f = ethernet::Frame::new_checked(&mut buf[..]).unwrap();
        f.set_src_addr(EthernetAddress([0x02, 0, 0, 0, 0, 0x01]));
        f.set_dst_addr(EthernetAddress([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]));
        let mut ip = ipv4::Packet::new_checked(&mut buf[l3..]).unwrap();
        assert_eq!(ip.decrement_ttl(), Some(63));
        let old = ip.rewrite_dst_addr(real);
        let mut seg = tcp::Packet::new_checked(ip.payload_mut()).unwrap();
        seg.update_checksum_addr(IpAddr::V4(old), IpAddr::V4(real));
        seg.rewrite_dst_port(8080);
        assert_eq!(seg.clamp_mss(1400).unwrap(), Some(1460));
        assert_eq!(buf, TO_REAL_SERVER);
    }

    #[test]
    fn protocol_display() {
        assert_eq!(IpProtocol::TCP.to_string(), "tcp");
        assert_eq!(IpProtocol(253).to_string(), "proto 253");
    }

    #[test]
    fn clamp_never_panics() {
        let b = [1u8, 2, 3];
        assert_eq!(clamp(&b, 1, 10), &[2, 3]);
        assert_eq!(clamp(&b, 5, 2), &[] as &[u8]);
        assert_eq!(clamp(&b, 2, 1), &[] as &[u8]);
    }
}
