//! UDP (RFC 768): header, length checks, checksum with the zero rules.
//!
//! Over IPv4 a zero checksum means "none" and always verifies; over IPv6 it is invalid
//! (RFC 8200 §8.1). A computed checksum of zero is sent as `0xffff`. The incremental-update
//! helpers here keep both rules, so NAT code should use them rather than the raw ones in
//! [`crate::checksum`].

use core::net::IpAddr;

use crate::checksum;
use crate::field::Field;
use crate::{be, clamp, clamp_mut, ChecksumMode, Error, IpProtocol, Result};

mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const LENGTH: Field = 4..6;
    pub const CHECKSUM: Field = 6..8;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::CHECKSUM.end;

/// RFC 1624 update of a UDP checksum for a 16-bit field change, keeping the UDP rules: an
/// absent (zero) checksum stays zero, and a zero result is sent as `0xffff`.
///
/// ```
/// use dpvs_wire::udp::update_checksum_u16;
/// assert_eq!(update_checksum_u16(0, 53, 5353), 0); // IPv4 "no checksum" stays so
/// assert_eq!(update_checksum_u16(0x0001, 0, 1), 0xffff); // zero result is sent as 0xffff
/// ```
pub fn update_checksum_u16(csum: u16, old: u16, new: u16) -> u16 {
    if csum == 0 {
        return 0;
    }
    nonzero(checksum::update_u16(csum, old, new))
}

/// Like [`update_checksum_u16`] for an address in the pseudo-header.
pub fn update_checksum_addr(csum: u16, old: IpAddr, new: IpAddr) -> u16 {
    if csum == 0 {
        return 0;
    }
    nonzero(checksum::update_addr(csum, old, new))
}

fn nonzero(c: u16) -> u16 {
    if c == 0 {
        0xffff
    } else {
        c
    }
}

/// A view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Truncated` if the header or the length field's bytes are missing, `Malformed` if the
    /// length field is below 8. Bytes after the length are ignored.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let field_len = usize::from(self.len());
        if field_len < HEADER_LEN {
            Err(Error::Malformed)
        } else if field_len > len {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::DST_PORT])
    }

    /// Length field (header + payload).
    pub fn len(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// True if the length field says there is no payload.
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= HEADER_LEN
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// The datagram as the length field bounds it, clamped to the buffer.
    pub fn datagram(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), 0, usize::from(self.len()))
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, usize::from(self.len()))
    }

    /// Verifies the checksum with the pseudo-header of `src`/`dst` and the zero rules.
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4() && dst.is_ipv4();
        }
        let data = self.datagram();
        match checksum::pseudo_header(src, dst, IpProtocol::UDP, data.len()) {
            Some(ph) => checksum::checksum_with_pseudo(ph, data) == 0,
            None => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::SRC_PORT], v)
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::DST_PORT], v)
    }

    /// Sets the length field.
    pub fn set_len(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::LENGTH], v)
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::CHECKSUM], v)
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Computes and stores the checksum (a zero result is stored as `0xffff`).
    /// `Err(Malformed)` if the address families differ.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        self.set_checksum(0);
        let data = self.datagram();
        let ph = checksum::pseudo_header(src, dst, IpProtocol::UDP, data.len()).ok_or(Error::Malformed)?;
        let c = nonzero(checksum::checksum_with_pseudo(ph, data));
        self.set_checksum(c);
        Ok(())
    }

    /// NAT: sets the source port, updating the checksum (zero rules kept); returns the old
    /// port.
    pub fn rewrite_src_port(&mut self, new: u16) -> u16 {
        let old = self.src_port();
        self.set_src_port(new);
        let c = update_checksum_u16(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// NAT: sets the destination port, updating the checksum; returns the old port.
    pub fn rewrite_dst_port(&mut self, new: u16) -> u16 {
        let old = self.dst_port();
        self.set_dst_port(new);
        let c = update_checksum_u16(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// NAT: updates the checksum for a pseudo-header address change.
    pub fn update_checksum_addr(&mut self, old: IpAddr, new: IpAddr) {
        let c = update_checksum_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }
}

/// A parsed UDP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    /// Parses, verifying the checksum per `mode` (and the zero rules).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<UdpRepr<'a>> {
        packet.check_len()?;
        if mode.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let buffer: &'a [u8] = T::as_ref(packet.buffer);
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload: clamp(buffer, HEADER_LEN, usize::from(packet.len())),
        })
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Writes the datagram and its checksum.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, src: IpAddr, dst: IpAddr) -> Result<()> {
        let len = u16::try_from(self.buffer_len()).map_err(|_| Error::Malformed)?;
        if packet.buffer.as_ref().len() < self.buffer_len() {
            return Err(Error::BufferTooSmall);
        }
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        packet.payload_mut().copy_from_slice(self.payload);
        packet.fill_checksum(src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};
    use proptest::prelude::*;

    const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10));
    const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    // 192.168.1.10:12345 -> 10.0.0.1:53 "ping" (checksum checked with scapy).
    static DGRAM4: [u8; 12] = [0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x24, 0xe4, 0x70, 0x69, 0x6e, 0x67];
    // [2001:db8::1]:12345 -> [2001:db8::2]:53 "ping".
    static DGRAM6: [u8; 12] = [0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x95, 0x22, 0x70, 0x69, 0x6e, 0x67];
    // Payload 03 b9 makes the computed IPv4 checksum 0, which is sent as ffff.
    static ZERO_SUM4: [u8; 10] = [0x30, 0x39, 0x00, 0x35, 0x00, 0x0a, 0xff, 0xff, 0x03, 0xb9];

    fn repr() -> UdpRepr<'static> {
        UdpRepr { src_port: 12345, dst_port: 53, payload: b"ping" }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&DGRAM4[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len(), p.checksum()), (12345, 53, 12, 0x24e4));
        assert_eq!(p.payload(), b"ping");
        assert!(!p.is_empty());
        assert!(p.verify_checksum(SRC4, DST4));
        assert_eq!(UdpRepr::parse(&p, SRC4, DST4, ChecksumMode::Verify).unwrap(), repr());
        let p = Packet::new_checked(&DGRAM6[..]).unwrap();
        assert!(p.verify_checksum(SRC6, DST6));
        assert_eq!(UdpRepr::parse(&p, SRC6, DST6, ChecksumMode::Verify).unwrap(), repr());
    }

    #[test]
    fn test_construct() {
        let mut buf = [0u8; 12];
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4).unwrap();
        assert_eq!(buf, DGRAM4);
        repr().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC6, DST6).unwrap();
        assert_eq!(buf, DGRAM6);
        let mut buf = [0u8; 10];
        UdpRepr { payload: &[0x03, 0xb9], ..repr() }.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4).unwrap();
        assert_eq!(buf, ZERO_SUM4);
        assert!(Packet::new_checked(&buf[..]).unwrap().verify_checksum(SRC4, DST4));
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut [0u8; 11][..]), SRC4, DST4), Err(Error::BufferTooSmall));
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut [0u8; 12][..]), SRC4, DST6), Err(Error::Malformed));
    }

    #[test]
    fn test_truncated() {
        for len in 0..DGRAM4.len() {
            assert_eq!(Packet::new_checked(&DGRAM4[..len]), Err(Error::Truncated));
        }
        let mut buf = DGRAM4;
        buf[5] = 7;
        assert_eq!(Packet::new_checked(&buf[..]), Err(Error::Malformed));
        // Trailing bytes (Ethernet padding) are not payload.
        let mut padded = [0u8; 20];
        padded[..12].copy_from_slice(&DGRAM4);
        let p = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), b"ping");
        assert!(p.verify_checksum(SRC4, DST4));
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = DGRAM4;
        buf[8] = b'P';
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum(SRC4, DST4));
        assert_eq!(UdpRepr::parse(&p, SRC4, DST4, ChecksumMode::Verify), Err(Error::Checksum));
        assert!(UdpRepr::parse(&p, SRC4, DST4, ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn test_zero_checksum_rules() {
        let mut buf = DGRAM4;
        buf[6] = 0;
        buf[7] = 0;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(SRC4, DST4), "IPv4: zero means no checksum");
        assert!(!p.verify_checksum(SRC6, DST6), "IPv6: zero is invalid");
        assert_eq!(UdpRepr::parse(&p, SRC6, DST6, ChecksumMode::Verify), Err(Error::Checksum));
        // NAT on a datagram without checksum leaves it without.
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.rewrite_dst_port(5353);
        p.update_checksum_addr(DST4, SRC4);
        assert_eq!(p.checksum(), 0);
        assert_eq!(update_checksum_u16(0, 1, 2), 0);
    }

    #[test]
    fn test_nat_rewrites() {
        let mut buf = DGRAM6;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.rewrite_src_port(1), 12345);
        let new = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 7));
        p.update_checksum_addr(DST6, new);
        assert!(p.verify_checksum(SRC6, new));
    }

    fn datagram_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Random ports and payload; half of the time the last word forces a computed checksum
        // of zero (sent as 0xffff), the corner case of the UDP rules.
        (any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..16), any::<bool>()).prop_map(
            |(sp, dp, mut payload, force_zero)| {
                if payload.len() % 2 == 1 {
                    payload.push(0);
                }
                if force_zero {
                    payload.extend([0, 0]);
                }
                let mut buf = vec![0u8; 8 + payload.len()];
                UdpRepr { src_port: sp, dst_port: dp, payload: &payload }
                    .emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4)
                    .unwrap();
                if force_zero {
                    // sum + w == 0xffff  <=>  w == the checksum computed with w == 0.
                    let c = be::u16(&buf[6..8]);
                    let n = buf.len();
                    buf[n - 2..].copy_from_slice(&(if c == 0xffff { 0 } else { c }).to_be_bytes());
                    Packet::new_unchecked(&mut buf[..]).fill_checksum(SRC4, DST4).unwrap();
                }
                buf
            },
        )
    }

    proptest! {
        #[test]
        fn roundtrip(sp in any::<u16>(), dp in any::<u16>(), payload in proptest::collection::vec(any::<u8>(), 0..64), v6 in any::<bool>()) {
            let (s, d) = if v6 { (SRC6, DST6) } else { (SRC4, DST4) };
            let r = UdpRepr { src_port: sp, dst_port: dp, payload: &payload };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d).unwrap();
            prop_assert!(Packet::new_unchecked(&buf[..]).checksum() != 0);
            prop_assert_eq!(UdpRepr::parse(&Packet::new_checked(&buf[..]).unwrap(), s, d, ChecksumMode::Verify).unwrap(), r);
        }

        /// Incremental NAT rewrite == full recompute, zero rules included.
        #[test]
        fn nat_matches_recompute(buf in datagram_strategy(), port in any::<u16>(), addr in any::<u32>()) {
            let mut buf = buf;
            let mut p = Packet::new_checked(&mut buf[..]).unwrap();
            let new = IpAddr::V4(Ipv4Addr::from(addr));
            p.rewrite_dst_port(port);
            p.update_checksum_addr(SRC4, new);
            let inc = p.checksum();
            p.fill_checksum(new, DST4).unwrap();
            prop_assert_eq!(inc, p.checksum());
            prop_assert!(p.verify_checksum(new, DST4));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.src_port(), p.dst_port(), p.len(), p.checksum(), p.payload(), p.datagram());
                let _ = (p.verify_checksum(SRC4, DST4), p.verify_checksum(SRC6, DST6));
                let _ = UdpRepr::parse(&p, SRC4, DST4, ChecksumMode::Verify);
            }
        }
    }
}
