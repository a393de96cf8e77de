//! ICMP errors the dataplane originates about a packet it could not forward, as the kernel's
//! `icmp_send` / `icmpv6_send` do from IPVS's transmit functions: "fragmentation needed"
//! (IPv6: "packet too big") when a packet with DF does not fit the route or the tunnel, and
//! "time exceeded" when its TTL runs out.
//!
//! The error goes back the way the packet came: out of the port it arrived on, to the MAC it
//! came from, from the address it was sent to (the VIP: with IPVS that is a local address,
//! which `icmp_send` picks as the source). It quotes as much of the packet as fits in 576
//! bytes (IPv4, RFC 1812) or 1280 (IPv6, RFC 4443), as Linux does.

use core::net::{Ipv4Addr, Ipv6Addr};

use dpvs_wire::checksum;
use dpvs_wire::IpProtocol;

/// Which error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpError {
    /// IPv4 destination unreachable, fragmentation needed (code 4), with the next-hop MTU;
    /// IPv6 packet too big.
    FragNeeded {
        /// The MTU to announce.
        mtu: u16,
    },
    /// Time exceeded in transit (code 0).
    TimeExceeded,
}

const ETH_HDR: usize = 14;
const IPV4_MAX: usize = 576;
const IPV6_MAX: usize = 1280;
/// The hop limit of errors we originate (Linux's default TTL).
const TTL: u8 = 64;

/// Builds into `out` the error about the frame `orig` (Ethernet, optional 802.1Q tag kept)
/// and returns its length; `None` if `orig` is not an IP packet this applies to (too short,
/// not IPv4/IPv6, an ICMP error itself, a non-first fragment, a source that must not get
/// errors) or `out` is too small for the error.
pub fn icmp_error(orig: &[u8], kind: IcmpError, out: &mut [u8]) -> Option<usize> {
    let (mut l2, mut ethertype) = (
        ETH_HDR,
        u16::from_be_bytes([*orig.get(12)?, *orig.get(13)?]),
    );
    if ethertype == 0x8100 {
        l2 += 4;
        ethertype = u16::from_be_bytes([*orig.get(16)?, *orig.get(17)?]);
    }
    let ip = orig.get(l2..)?;
    let len = match ethertype {
        0x0800 => v4(ip, kind, out.get_mut(l2..)?)?,
        0x86dd => v6(ip, kind, out.get_mut(l2..)?)?,
        _ => return None,
    };
    // back to where it came from: the MACs swapped, the tag kept
    out[..6].copy_from_slice(&orig[6..12]);
    out[6..12].copy_from_slice(&orig[..6]);
    out[12..l2].copy_from_slice(&orig[12..l2]);
    Some(l2 + len)
}

fn v4(ip: &[u8], kind: IcmpError, out: &mut [u8]) -> Option<usize> {
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if ip.len() < 20 || ihl < 20 || ip.len() < ihl || ip[0] >> 4 != 4 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    // RFC 1122: never about a non-first fragment, a broadcast or multicast, or an ICMP error
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0
        || src.is_unspecified()
        || src.is_broadcast()
        || src.is_multicast()
        || dst.is_multicast()
        || dst.is_broadcast()
    {
        return None;
    }
    if ip[9] == IpProtocol::ICMP.0 {
        let t = *ip.get(ihl)?;
        if !matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) {
            return None;
        }
    }
    let quoted = total.min(IPV4_MAX - 20 - 8);
    let n = 20 + 8 + quoted;
    let out = out.get_mut(..n)?;
    out[0] = 0x45;
    out[1] = 0xc0; // DSCP CS6 (Linux's tos for ICMP errors: IPTOS_PREC_INTERNETCONTROL)
    out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    out[4..8].copy_from_slice(&[0, 0, 0, 0]);
    out[8] = TTL;
    out[9] = IpProtocol::ICMP.0;
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(&dst.octets());
    out[16..20].copy_from_slice(&src.octets());
    let c = checksum::checksum(&out[..20]);
    out[10..12].copy_from_slice(&c.to_be_bytes());
    let icmp = &mut out[20..];
    match kind {
        IcmpError::FragNeeded { mtu } => {
            icmp[..4].copy_from_slice(&[3, 4, 0, 0]);
            icmp[4..6].copy_from_slice(&[0, 0]);
            icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
        }
        IcmpError::TimeExceeded => icmp[..8].copy_from_slice(&[11, 0, 0, 0, 0, 0, 0, 0]),
    }
    icmp[8..].copy_from_slice(&ip[..quoted]);
    let c = checksum::checksum(icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(n)
}

fn v6(ip: &[u8], kind: IcmpError, out: &mut [u8]) -> Option<usize> {
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return None;
    }
    let total = (40 + usize::from(u16::from_be_bytes([ip[4], ip[5]]))).min(ip.len());
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).ok()?);
    if src.is_unspecified() || src.is_multicast() {
        return None;
    }
    // no error about an ICMPv6 error (an extension header in between is not looked through)
    if ip[6] == IpProtocol::ICMPV6.0 && ip.get(40).is_some_and(|t| *t < 128) {
        return None;
    }
    let quoted = total.min(IPV6_MAX - 40 - 8);
    let n = 40 + 8 + quoted;
    let out = out.get_mut(..n)?;
    out[..4].copy_from_slice(&[0x60, 0, 0, 0]);
    out[4..6].copy_from_slice(&((8 + quoted) as u16).to_be_bytes());
    out[6] = IpProtocol::ICMPV6.0;
    out[7] = TTL;
    out[8..24].copy_from_slice(&dst.octets());
    out[24..40].copy_from_slice(&src.octets());
    let icmp = &mut out[40..];
    match kind {
        IcmpError::FragNeeded { mtu } => {
            icmp[..4].copy_from_slice(&[2, 0, 0, 0]);
            icmp[4..8].copy_from_slice(&u32::from(mtu).to_be_bytes());
        }
        IcmpError::TimeExceeded => icmp[..8].copy_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]),
    }
    icmp[8..].copy_from_slice(&ip[..quoted]);
    let pseudo = checksum::pseudo_header_v6(dst, src, IpProtocol::ICMPV6, (8 + quoted) as u32);
    let c = checksum::checksum_with_pseudo(pseudo, icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's 1500-byte TCP segment with DF to the VIP, as a frame.
    fn big_v4() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 1500];
        f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // to us
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // from the client's router
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[..4].copy_from_slice(&[0x45, 0, 0x05, 0xdc]);
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 90, 1, 2]);
        ip[16..20].copy_from_slice(&[10, 90, 0, 100]);
        let c = checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f
    }

    #[test]
    fn frag_needed_v4_byte_exact_header() {
        let orig = big_v4();
        let mut out = [0u8; 1600];
        let n = icmp_error(&orig, IcmpError::FragNeeded { mtu: 1480 }, &mut out).unwrap();
        assert_eq!(n, 14 + 576);
        #[rustfmt::skip]
        let head: [u8; 42] = [
            0x02, 0, 0, 0, 0, 0x02,  0x02, 0, 0, 0, 0, 0x01,  0x08, 0x00,
            0x45, 0xc0, 0x02, 0x40,  0, 0, 0, 0,  64, 1, 0x00, 0x00,
            10, 90, 0, 100,  10, 90, 1, 2,
            3, 4, 0x00, 0x00,  0, 0, 0x05, 0xc8,
        ];
        let mut want = head;
        let c = checksum::checksum(&want[14..34]);
        want[24..26].copy_from_slice(&c.to_be_bytes());
        let c = checksum::checksum(&out[34..n]);
        assert_eq!(c, 0, "the ICMP checksum verifies");
        want[36..38].copy_from_slice(&out[36..38]);
        assert_eq!(&out[..42], &want[..]);
        assert_eq!(
            &out[42..n],
            &orig[14..14 + 548],
            "quotes what fits in 576 bytes"
        );
        assert_eq!(
            checksum::checksum(&out[14..34]),
            0,
            "the IP checksum verifies"
        );
    }

    #[test]
    fn time_exceeded_and_refusals() {
        let orig = big_v4();
        let mut out = [0u8; 1600];
        let n = icmp_error(&orig, IcmpError::TimeExceeded, &mut out).unwrap();
        assert_eq!(&out[34..38], &[11, 0, out[36], out[37]]);
        assert_eq!(checksum::checksum(&out[34..n]), 0);
        // not about an ICMP error, a fragment, a multicast destination, or a short buffer
        let mut e = orig.clone();
        e[14 + 9] = 1;
        e[34] = 3;
        assert_eq!(icmp_error(&e, IcmpError::TimeExceeded, &mut out), None);
        let mut frag = orig.clone();
        frag[14 + 7] = 8;
        assert_eq!(icmp_error(&frag, IcmpError::TimeExceeded, &mut out), None);
        let mut mc = orig.clone();
        mc[30] = 224;
        assert_eq!(icmp_error(&mc, IcmpError::TimeExceeded, &mut out), None);
        assert_eq!(
            icmp_error(&orig, IcmpError::TimeExceeded, &mut [0u8; 100]),
            None
        );
        for cut in 0..40 {
            let _ = icmp_error(&orig[..cut], IcmpError::TimeExceeded, &mut out);
        }
    }

    #[test]
    fn packet_too_big_v6() {
        let mut f = vec![0u8; 14 + 1500];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        let ip = &mut f[14..];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&1460u16.to_be_bytes());
        ip[6] = 6;
        ip[7] = 64;
        ip[8..24].copy_from_slice(&"fd00:90:1::2".parse::<Ipv6Addr>().unwrap().octets());
        ip[24..40].copy_from_slice(&"fd00:90::100".parse::<Ipv6Addr>().unwrap().octets());
        let mut out = [0u8; 1600];
        let n = icmp_error(&f, IcmpError::FragNeeded { mtu: 1280 }, &mut out).unwrap();
        assert_eq!(n, 14 + 1280);
        assert_eq!(&out[14..22], &[0x60, 0, 0, 0, 0x04, 0xd8, 58, 64]);
        assert_eq!(&out[22..38], &f[38..54], "from the VIP");
        assert_eq!(&out[38..54], &f[22..38], "to the client");
        assert_eq!(&out[54..56], &[2, 0]);
        assert_eq!(&out[58..62], &1280u32.to_be_bytes());
        let src: Ipv6Addr = "fd00:90::100".parse().unwrap();
        let dst: Ipv6Addr = "fd00:90:1::2".parse().unwrap();
        let pseudo = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, 1240);
        assert_eq!(checksum::checksum_with_pseudo(pseudo, &out[54..n]), 0);
    }
}
