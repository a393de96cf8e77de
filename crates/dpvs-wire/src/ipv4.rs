//! IPv4 (RFC 791): header with options, fragment fields, header checksum.

use core::net::Ipv4Addr;

use crate::checksum;
use crate::field::Field;
use crate::{be, clamp, clamp_mut, ChecksumMode, Error, IpProtocol, Result};

mod field {
    use super::Field;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Field = 2..4;
    pub const IDENT: Field = 4..6;
    pub const FLG_OFF: Field = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Field = 10..12;
    pub const SRC_ADDR: Field = 12..16;
    pub const DST_ADDR: Field = 16..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = field::DST_ADDR.end;
/// Longest header (IHL 15).
pub const MAX_HEADER_LEN: usize = 60;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; fixed-field getters may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and runs [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Wraps a buffer holding at least the whole header (options included), but maybe not the
    /// whole packet: the IPv4 packet quoted in an ICMP error. The payload getter then returns
    /// what is there.
    pub fn new_checked_header(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_header_len()?;
        Ok(p)
    }

    /// Checks that the fixed header and the options announced by IHL are in the buffer.
    pub fn check_header_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if hlen > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Checks the header as [`check_header_len`](Self::check_header_len) does, and that
    /// `header_len <= total_len <= buffer length`. Bytes after `total_len` (Ethernet padding)
    /// are allowed and ignored.
    pub fn check_len(&self) -> Result<()> {
        self.check_header_len()?;
        let total = usize::from(self.total_len());
        if total < self.header_len() {
            return Err(Error::Malformed);
        }
        if total > self.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The whole DSCP/ECN (former TOS) byte.
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN]
    }

    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.dscp_ecn() >> 2
    }

    /// Explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        self.dscp_ecn() & 0x03
    }

    /// Total length (header + payload).
    pub fn total_len(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::IDENT])
    }

    fn flags_offset(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::FLG_OFF])
    }

    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (self.flags_offset() & OFFSET_MASK) << 3
    }

    /// True for any fragment: MF set or a non-zero offset.
    pub fn is_fragment(&self) -> bool {
        self.flags_offset() & (FLAG_MF | OFFSET_MASK) != 0
    }

    /// True for a fragment other than the first (it carries no upper-layer header).
    pub fn is_non_first_fragment(&self) -> bool {
        self.flags_offset() & OFFSET_MASK != 0
    }

    /// Time to live.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::PROTOCOL])
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(be::u32(&self.buffer.as_ref()[field::SRC_ADDR]))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(be::u32(&self.buffer.as_ref()[field::DST_ADDR]))
    }

    /// The raw header (options included).
    pub fn header(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), 0, self.header_len())
    }

    /// The option bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// The payload: from the end of the header to `total_len`, clamped to the buffer.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), self.header_len(), usize::from(self.total_len()))
    }

    /// True if the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.header()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version nibble.
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, len: usize) {
        let ihl = (len.min(MAX_HEADER_LEN) / 4) as u8;
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ihl;
    }

    /// Sets the DSCP/ECN byte.
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[field::DSCP_ECN] = v
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::LENGTH], v)
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::IDENT], v)
    }

    fn set_flags_offset(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::FLG_OFF], v)
    }

    /// Clears flags and fragment offset.
    pub fn clear_flags(&mut self) {
        self.set_flags_offset(0)
    }

    /// Sets or clears DF.
    pub fn set_dont_frag(&mut self, on: bool) {
        let v = self.flags_offset();
        self.set_flags_offset(if on { v | FLAG_DF } else { v & !FLAG_DF })
    }

    /// Sets or clears MF.
    pub fn set_more_frags(&mut self, on: bool) {
        let v = self.flags_offset();
        self.set_flags_offset(if on { v | FLAG_MF } else { v & !FLAG_MF })
    }

    /// Sets the fragment offset in bytes (the low 3 bits are dropped).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let v = self.flags_offset();
        self.set_flags_offset((v & !OFFSET_MASK) | ((bytes >> 3) & OFFSET_MASK))
    }

    /// Sets the TTL.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v
    }

    /// Sets the protocol.
    pub fn set_next_header(&mut self, v: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = v.0
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::CHECKSUM], v)
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets())
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets())
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.header());
        self.set_checksum(c);
    }

    /// Mutable option bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        clamp_mut(self.buffer.as_mut(), start, end)
    }

    /// NAT: replaces the source address, updates the header checksum incrementally and
    /// returns the old address (for the caller's L4 pseudo-header update).
    pub fn rewrite_src_addr(&mut self, new: Ipv4Addr) -> Ipv4Addr {
        let old = self.src_addr();
        self.set_src_addr(new);
        let c = checksum::update_v4(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// NAT: replaces the destination address, updates the header checksum incrementally and
    /// returns the old address.
    pub fn rewrite_dst_addr(&mut self, new: Ipv4Addr) -> Ipv4Addr {
        let old = self.dst_addr();
        self.set_dst_addr(new);
        let c = checksum::update_v4(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// Forwarding: decrements the TTL with an incremental checksum update and returns the new
    /// TTL, or `None` (packet unchanged) if the TTL is 0 or 1 and the packet must not be
    /// forwarded.
    pub fn decrement_ttl(&mut self) -> Option<u8> {
        let ttl = self.hop_limit();
        if ttl <= 1 {
            return None;
        }
        let proto = self.buffer.as_ref()[field::PROTOCOL];
        let old = u16::from_be_bytes([ttl, proto]);
        let new = u16::from_be_bytes([ttl - 1, proto]);
        self.set_hop_limit(ttl - 1);
        let c = checksum::update_u16(self.checksum(), old, new);
        self.set_checksum(c);
        Some(ttl - 1)
    }
}

/// A parsed IPv4 header (options are skipped; their bytes stay available on [`Packet`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub next_header: IpProtocol,
    /// Payload length (total length minus header length).
    pub payload_len: usize,
    /// TTL.
    pub hop_limit: u8,
    /// DSCP/ECN byte.
    pub dscp_ecn: u8,
    /// Identification.
    pub ident: u16,
    /// Don't fragment.
    pub dont_frag: bool,
    /// More fragments.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8).
    pub frag_offset: u16,
}

impl Ipv4Repr {
    /// Parses and validates a packet (version, lengths, and the checksum per `mode`).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, mode: ChecksumMode) -> Result<Ipv4Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Malformed);
        }
        if mode.verify() && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.total_len()) - packet.header_len(),
            hop_limit: packet.hop_limit(),
            dscp_ecn: packet.dscp_ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// Length of the emitted header (always 20: no options).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// True for a fragment.
    pub fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Writes a 20-byte header with a valid checksum to the start of `packet`. The payload is
    /// the caller's. Fails if the buffer is too small or a field is out of range.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        let total = u16::try_from(HEADER_LEN + self.payload_len).map_err(|_| Error::Malformed)?;
        if self.frag_offset & 7 != 0 {
            return Err(Error::Malformed);
        }
        packet.buffer.as_mut()[field::VER_IHL] = 0x45;
        packet.set_dscp_ecn(self.dscp_ecn);
        packet.set_total_len(total);
        packet.set_ident(self.ident);
        packet.clear_flags();
        packet.set_dont_frag(self.dont_frag);
        packet.set_more_frags(self.more_frags);
        packet.set_frag_offset(self.frag_offset);
        packet.set_hop_limit(self.hop_limit);
        packet.set_next_header(self.next_header);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 192.168.1.10 -> 10.0.0.1, ICMP, TTL 64, id 0x1234, DF, 4 payload bytes.
    static PACKET: [u8; 24] = [
        0x45, 0x00, 0x00, 0x18, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x5c, 0xfe, 0xc0, 0xa8, 0x01,
        0x0a, 0x0a, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    // IHL 6 with a Router Alert option (94 04 00 00): IGMP to 224.0.0.22, TTL 1.
    static WITH_OPTIONS: [u8; 28] = [
        0x46, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x83, 0x12, 0xc0, 0xa8, 0x01,
        0x0a, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(192, 168, 1, 10),
            dst_addr: Ipv4Addr::new(10, 0, 0, 1),
            next_header: IpProtocol::ICMP,
            payload_len: 4,
            hop_limit: 64,
            dscp_ecn: 0,
            ident: 0x1234,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!((p.dscp(), p.ecn()), (0, 0));
        assert_eq!(p.total_len(), 24);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag() && !p.more_frags() && !p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.next_header(), IpProtocol::ICMP);
        assert_eq!(p.checksum(), 0x5cfe);
        assert_eq!(p.src_addr(), Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert!(p.options().is_empty());
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert!(p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p, ChecksumMode::Verify).unwrap(), repr());
    }

    #[test]
    fn test_deconstruct_options() {
        let p = Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert!(p.verify_checksum());
        let r = Ipv4Repr::parse(&p, ChecksumMode::Verify).unwrap();
        assert_eq!(r.payload_len, 4);
        assert_eq!(r.next_header, IpProtocol(2));
        assert_eq!(r.dst_addr, Ipv4Addr::new(224, 0, 0, 22));
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 24];
        buf[20..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        repr().emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, PACKET);
    }

    #[test]
    fn test_emit_errors() {
        let mut small = [0u8; 19];
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut small[..])), Err(Error::BufferTooSmall));
        let mut buf = [0u8; 20];
        let big = Ipv4Repr { payload_len: 65516, ..repr() };
        assert_eq!(big.emit(&mut Packet::new_unchecked(&mut buf[..])), Err(Error::Malformed));
        let odd = Ipv4Repr { frag_offset: 3, ..repr() };
        assert_eq!(odd.emit(&mut Packet::new_unchecked(&mut buf[..])), Err(Error::Malformed));
    }

    #[test]
    fn test_truncated() {
        for len in 0..PACKET.len() {
            assert_eq!(Packet::new_checked(&PACKET[..len]), Err(Error::Truncated), "len {len}");
        }
        for len in 0..WITH_OPTIONS.len() {
            assert_eq!(Packet::new_checked(&WITH_OPTIONS[..len]), Err(Error::Truncated));
        }
        // The header-only check accepts a truncated payload.
        let p = Packet::new_checked_header(&WITH_OPTIONS[..26]).unwrap();
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        assert_eq!(Packet::new_checked_header(&WITH_OPTIONS[..23]), Err(Error::Truncated));
        // Ethernet padding after total_len is ignored.
        let mut padded = [0u8; 60];
        padded[..24].copy_from_slice(&PACKET);
        let p = Packet::new_checked(&padded[..]).unwrap();
        assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn test_malformed() {
        let mut buf = PACKET;
        buf[0] = 0x44; // IHL 4
        assert_eq!(Packet::new_checked(&buf[..]), Err(Error::Malformed));
        let mut buf = PACKET;
        buf[3] = 19; // total length below header length
        assert_eq!(Packet::new_checked(&buf[..]), Err(Error::Malformed));
        let mut buf = PACKET;
        buf[0] = 0x65; // version 6
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p, ChecksumMode::Ignore), Err(Error::Malformed));
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = PACKET;
        buf[11] ^= 1;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&p, ChecksumMode::Verify), Err(Error::Checksum));
        assert!(Ipv4Repr::parse(&p, ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn test_fragments() {
        let mut buf = PACKET;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_more_frags(true);
        assert!(p.is_fragment() && !p.is_non_first_fragment());
        p.set_more_frags(false);
        p.set_frag_offset(1480);
        assert_eq!(p.frag_offset(), 1480);
        assert!(p.is_fragment() && p.is_non_first_fragment() && p.dont_frag());
        p.set_dont_frag(false);
        assert!(!p.dont_frag());
        p.fill_checksum();
        let r = Ipv4Repr::parse(&p, ChecksumMode::Verify).unwrap();
        assert!(r.is_fragment());
        assert_eq!(r.frag_offset, 1480);
        // 1480 / 8 = 185 = 0x00b9.
        assert_eq!(&buf[6..8], &[0x00, 0xb9]);
    }

    #[test]
    fn test_nat_rewrite_and_ttl() {
        let mut buf = PACKET;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        let old = p.rewrite_dst_addr(Ipv4Addr::new(172, 16, 0, 9));
        assert_eq!(old, Ipv4Addr::new(10, 0, 0, 1));
        assert!(p.verify_checksum());
        p.rewrite_src_addr(Ipv4Addr::new(255, 255, 255, 255));
        assert!(p.verify_checksum());
        assert_eq!(p.decrement_ttl(), Some(63));
        assert!(p.verify_checksum());
        p.set_hop_limit(1);
        p.fill_checksum();
        assert_eq!(p.decrement_ttl(), None);
        assert_eq!(p.hop_limit(), 1);
    }

    #[test]
    fn test_setters() {
        let mut buf = WITH_OPTIONS;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.options_mut()[0] = 0x01;
        p.payload_mut()[0] = 0x11;
        p.set_version(4);
        p.set_header_len(24);
        p.set_dscp_ecn(0xb8 | 0x01);
        assert_eq!((p.dscp(), p.ecn()), (46, 1));
        assert_eq!(p.options()[0], 0x01);
        assert_eq!(p.payload()[0], 0x11);
        // Even after a bogus header length, the accessors stay in bounds.
        p.set_header_len(60);
        p.set_total_len(0xffff);
        assert!(p.payload().is_empty());
        assert_eq!(p.options().len(), 8);
    }

    proptest! {
        #[test]
        fn roundtrip(src in any::<u32>(), dst in any::<u32>(), proto in any::<u8>(), len in 0usize..100,
                     ttl in any::<u8>(), tos in any::<u8>(), ident in any::<u16>(), df in any::<bool>(),
                     mf in any::<bool>(), off in 0u16..8192) {
            let r = Ipv4Repr {
                src_addr: Ipv4Addr::from(src), dst_addr: Ipv4Addr::from(dst), next_header: IpProtocol(proto),
                payload_len: len, hop_limit: ttl, dscp_ecn: tos, ident, dont_frag: df, more_frags: mf,
                frag_offset: off * 8,
            };
            let mut buf = vec![0u8; 20 + len];
            r.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv4Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), ChecksumMode::Verify).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.version(), p.header_len(), p.total_len(), p.ident(), p.is_fragment());
                let _ = (p.frag_offset(), p.hop_limit(), p.next_header(), p.src_addr(), p.dst_addr());
                let _ = (p.options(), p.payload(), p.verify_checksum());
                let _ = Ipv4Repr::parse(&p, ChecksumMode::Verify);
            }
            if let Ok(p) = Packet::new_checked_header(&data[..]) {
                let _ = (p.options(), p.payload(), p.header());
            }
        }
    }
}
