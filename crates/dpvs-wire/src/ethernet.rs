//! Ethernet II frames and 802.1Q VLAN tags.
//!
//! [`Frame`] is the untagged 14-byte header; [`VlanHeader`] views the 4 bytes that follow an
//! 802.1Q/802.1ad EtherType. [`EthernetRepr`] parses and emits a frame with at most one tag.
//! [`vlan_insert`] and [`vlan_strip`] add or remove a tag in place by moving only the 12
//! address bytes (as DPDK's `rte_vlan_insert`/`rte_vlan_strip` do with an mbuf's headroom).

use core::fmt;

use crate::field::{Field, Rest};
use crate::{be, clamp, clamp_mut, Error, Result};

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// Reads an address from the first six bytes of `data`, or `None` if it is shorter.
    pub fn from_bytes(data: &[u8]) -> Option<EthernetAddress> {
        let b: [u8; 6] = data.get(..6)?.try_into().ok()?;
        Some(EthernetAddress(b))
    }

    /// The six bytes.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// True for the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True when the group bit is set (broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for an individual (unicast) address.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }

    /// True when the locally-administered bit is set.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// `xx:xx:xx:xx:xx:xx` could not be read as a MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadMac;

impl core::str::FromStr for EthernetAddress {
    type Err = BadMac;

    /// Six groups of one or two hex digits separated by `:`, as `ip` writes them.
    fn from_str(s: &str) -> core::result::Result<EthernetAddress, BadMac> {
        let mut mac = [0u8; 6];
        let mut parts = s.split(':');
        for b in &mut mac {
            let p = parts.next().ok_or(BadMac)?;
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(BadMac);
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| BadMac)?;
        }
        match parts.next() {
            None => Ok(EthernetAddress(mac)),
            Some(_) => Err(BadMac),
        }
    }
}

impl fmt::Debug for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An EtherType. A newtype so that unknown values survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EtherType(pub u16);

impl EtherType {
    /// IPv4.
    pub const IPV4: EtherType = EtherType(0x0800);
    /// ARP.
    pub const ARP: EtherType = EtherType(0x0806);
    /// 802.1Q customer VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IPv6.
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// LLDP.
    pub const LLDP: EtherType = EtherType(0x88cc);

    /// True for the EtherTypes that announce a VLAN tag (802.1Q and 802.1ad).
    pub fn is_vlan(self) -> bool {
        self == Self::VLAN || self == Self::QINQ
    }
}

impl fmt::Debug for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EtherType::IPV4 => f.write_str("IPv4"),
            EtherType::ARP => f.write_str("ARP"),
            EtherType::VLAN => f.write_str("802.1Q"),
            EtherType::IPV6 => f.write_str("IPv6"),
            EtherType::QINQ => f.write_str("802.1ad"),
            EtherType::LLDP => f.write_str("LLDP"),
            EtherType(t) => write!(f, "0x{t:04x}"),
        }
    }
}

mod field {
    use super::*;
    pub const DESTINATION: Field = 0..6;
    pub const SOURCE: Field = 6..12;
    pub const ETHERTYPE: Field = 12..14;
    pub const PAYLOAD: Rest = 14..;
    // Inside a VLAN tag (relative to the tag).
    pub const TCI: Field = 0..2;
    pub const INNER_ETHERTYPE: Field = 2..4;
    pub const VLAN_PAYLOAD: Rest = 4..;
}

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD.start;
/// Length of an 802.1Q tag.
pub const VLAN_TAG_LEN: usize = field::VLAN_PAYLOAD.start;

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking its length; getters may panic if it is too short.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps a buffer and checks it holds the 14-byte header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// `Err(Truncated)` if the buffer is shorter than the header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress(self.buffer.as_ref()[field::DESTINATION].try_into().unwrap_or([0; 6]))
    }

    /// Source MAC.
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress(self.buffer.as_ref()[field::SOURCE].try_into().unwrap_or([0; 6]))
    }

    /// The (outer) EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType(be::u16(&self.buffer.as_ref()[field::ETHERTYPE]))
    }

    /// Everything after the 14-byte header (for a tagged frame this starts with the tag).
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, usize::MAX)
    }

    /// The VLAN tag following the header, if the EtherType announces one.
    pub fn vlan(&self) -> Option<Result<VlanHeader<&[u8]>>> {
        if self.ethertype().is_vlan() {
            Some(VlanHeader::new_checked(self.payload()))
        } else {
            None
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination MAC.
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a.0)
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a.0)
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, t: EtherType) {
        be::put_u16(&mut self.buffer.as_mut()[field::ETHERTYPE], t.0)
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, usize::MAX)
    }
}

/// An 802.1Q tag control information (PCP, DEI, VID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanTci {
    /// Priority code point, 3 bits.
    pub pcp: u8,
    /// Drop eligible indicator.
    pub dei: bool,
    /// VLAN identifier, 12 bits.
    pub vid: u16,
}

impl VlanTci {
    /// Decodes a raw 16-bit TCI.
    pub const fn from_u16(tci: u16) -> VlanTci {
        VlanTci { pcp: (tci >> 13) as u8, dei: tci & 0x1000 != 0, vid: tci & 0x0fff }
    }

    /// Encodes to a raw TCI; out-of-range PCP and VID bits are masked off.
    pub const fn to_u16(self) -> u16 {
        ((self.pcp as u16 & 0x7) << 13) | ((self.dei as u16) << 12) | (self.vid & 0x0fff)
    }
}

/// A view of a VLAN tag: TCI and the inner EtherType, then the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanHeader<T> {
    /// Wraps a buffer (starting at the TCI) without checking it.
    pub const fn new_unchecked(buffer: T) -> VlanHeader<T> {
        VlanHeader { buffer }
    }

    /// Wraps a buffer and checks it holds the 4-byte tag.
    pub fn new_checked(buffer: T) -> Result<VlanHeader<T>> {
        let v = Self::new_unchecked(buffer);
        v.check_len()?;
        Ok(v)
    }

    /// `Err(Truncated)` if shorter than the tag.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < VLAN_TAG_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The tag control information.
    pub fn tci(&self) -> VlanTci {
        VlanTci::from_u16(be::u16(&self.buffer.as_ref()[field::TCI]))
    }

    /// The EtherType of the payload.
    pub fn ethertype(&self) -> EtherType {
        EtherType(be::u16(&self.buffer.as_ref()[field::INNER_ETHERTYPE]))
    }

    /// What follows the tag.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), VLAN_TAG_LEN, usize::MAX)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanHeader<T> {
    /// Sets the TCI.
    pub fn set_tci(&mut self, tci: VlanTci) {
        be::put_u16(&mut self.buffer.as_mut()[field::TCI], tci.to_u16())
    }

    /// Sets the inner EtherType.
    pub fn set_ethertype(&mut self, t: EtherType) {
        be::put_u16(&mut self.buffer.as_mut()[field::INNER_ETHERTYPE], t.0)
    }
}

/// A parsed Ethernet header with at most one VLAN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetRepr {
    /// Destination MAC.
    pub dst_addr: EthernetAddress,
    /// Source MAC.
    pub src_addr: EthernetAddress,
    /// The 802.1Q tag, if any.
    pub vlan: Option<VlanTci>,
    /// The EtherType of the payload (inside the tag if tagged).
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Parses a frame; a single 802.1Q (0x8100) tag is decoded. An 802.1ad outer tag is left
    /// to the caller (the repr then has `ethertype == QINQ` and no `vlan`).
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<EthernetRepr> {
        frame.check_len()?;
        let outer = frame.ethertype();
        let (vlan, ethertype) = if outer == EtherType::VLAN {
            let tag = VlanHeader::new_checked(frame.payload())?;
            (Some(tag.tci()), tag.ethertype())
        } else {
            (None, outer)
        };
        Ok(EthernetRepr { dst_addr: frame.dst_addr(), src_addr: frame.src_addr(), vlan, ethertype })
    }

    /// Header length: 14, or 18 with a tag.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + if self.vlan.is_some() { VLAN_TAG_LEN } else { 0 }
    }

    /// Writes the header (and tag) to the start of `frame`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<()> {
        if frame.buffer.as_ref().len() < self.header_len() {
            return Err(Error::BufferTooSmall);
        }
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        match self.vlan {
            Some(tci) => {
                frame.set_ethertype(EtherType::VLAN);
                let mut tag = VlanHeader::new_unchecked(frame.payload_mut());
                tag.set_tci(tci);
                tag.set_ethertype(self.ethertype);
            }
            None => frame.set_ethertype(self.ethertype),
        }
        Ok(())
    }

    /// The payload of a frame this repr was parsed from.
    pub fn payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        clamp(frame, self.header_len(), usize::MAX)
    }
}

/// Inserts an 802.1Q tag in place.
///
/// `buf` is 4 bytes of headroom followed by an untagged frame. The 12 address bytes move to
/// the front and the tag is written after them; the tagged frame is then the whole of `buf`.
pub fn vlan_insert(buf: &mut [u8], tci: VlanTci) -> Result<()> {
    if buf.len() < VLAN_TAG_LEN + HEADER_LEN {
        return Err(Error::BufferTooSmall);
    }
    buf.copy_within(VLAN_TAG_LEN..VLAN_TAG_LEN + 12, 0);
    be::put_u16(&mut buf[12..14], EtherType::VLAN.0);
    be::put_u16(&mut buf[14..16], tci.to_u16());
    // buf[16..18] is the frame's original EtherType, now the inner one.
    Ok(())
}

/// Removes an 802.1Q (or 802.1ad) tag in place and returns its TCI.
///
/// After the call the untagged frame is `buf[4..]`; the first 4 bytes are free headroom.
pub fn vlan_strip(buf: &mut [u8]) -> Result<VlanTci> {
    let frame = Frame::new_checked(&*buf)?;
    if !frame.ethertype().is_vlan() {
        return Err(Error::Malformed);
    }
    let tci = VlanHeader::new_checked(frame.payload())?.tci();
    buf.copy_within(0..12, VLAN_TAG_LEN);
    Ok(tci)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mac_addresses_read_as_ip_writes_them() {
        let m: EthernetAddress = "02:00:0a:Bb:c:0".parse().unwrap();
        assert_eq!(m, EthernetAddress([2, 0, 0x0a, 0xbb, 0x0c, 0]));
        assert_eq!(m.to_string().parse::<EthernetAddress>(), Ok(m));
        for bad in ["", "02:00:00:00:00", "02:00:00:00:00:00:00", "02:00:00:00:00:", "002:00:00:00:00:00", "+2:00:00:00:00:00", "0g:00:00:00:00:00"] {
            assert_eq!(bad.parse::<EthernetAddress>(), Err(BadMac), "{bad:?}");
        }
    }

    // dst 00:11:22:33:44:55, src 02:00:00:00:00:01, IPv4, 4 payload bytes.
    static FRAME: [u8; 18] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0xaa,
        0xbb, 0xcc, 0xdd,
    ];

    // Same frame tagged with PCP 5, DEI 0, VID 100 (TCI 0xa064).
    static TAGGED: [u8; 22] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00, 0xa0,
        0x64, 0x08, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,
    ];

    const DST: EthernetAddress = EthernetAddress([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
    const SRC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);

    #[test]
    fn test_deconstruct() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), DST);
        assert_eq!(f.src_addr(), SRC);
        assert_eq!(f.ethertype(), EtherType::IPV4);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert!(f.vlan().is_none());
        let r = EthernetRepr::parse(&f).unwrap();
        assert_eq!(r, EthernetRepr { dst_addr: DST, src_addr: SRC, vlan: None, ethertype: EtherType::IPV4 });
    }

    #[test]
    fn test_deconstruct_tagged() {
        let f = Frame::new_checked(&TAGGED[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::VLAN);
        let tag = f.vlan().unwrap().unwrap();
        assert_eq!(tag.tci(), VlanTci { pcp: 5, dei: false, vid: 100 });
        assert_eq!(tag.ethertype(), EtherType::IPV4);
        assert_eq!(tag.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let r = EthernetRepr::parse(&f).unwrap();
        assert_eq!(r.vlan, Some(VlanTci { pcp: 5, dei: false, vid: 100 }));
        assert_eq!(r.header_len(), 18);
        assert_eq!(r.payload(&TAGGED), &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0u8; 18];
        buf[14..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        let r = EthernetRepr { dst_addr: DST, src_addr: SRC, vlan: None, ethertype: EtherType::IPV4 };
        r.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, FRAME);

        let mut buf = [0u8; 22];
        buf[18..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        let r = EthernetRepr { vlan: Some(VlanTci { pcp: 5, dei: false, vid: 100 }), ..r };
        r.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, TAGGED);
        assert_eq!(r.emit(&mut Frame::new_unchecked(&mut [0u8; 17][..])), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_setters() {
        let mut buf = FRAME;
        let mut f = Frame::new_checked(&mut buf[..]).unwrap();
        f.set_ethertype(EtherType::ARP);
        f.set_src_addr(DST);
        f.set_dst_addr(EthernetAddress::BROADCAST);
        f.payload_mut()[0] = 1;
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert!(f.dst_addr().is_broadcast() && f.dst_addr().is_multicast());
        assert!(f.src_addr().is_unicast() && !f.src_addr().is_local());
        assert_eq!(f.payload()[0], 1);
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(Frame::new_checked(&FRAME[..len]), Err(Error::Truncated));
        }
        for len in 0..18 {
            let f = Frame::new_unchecked(&TAGGED[..len]);
            assert!(EthernetRepr::parse(&f).is_err(), "len {len}");
        }
        assert!(EthernetRepr::parse(&Frame::new_unchecked(&TAGGED[..18])).is_ok());
    }

    #[test]
    fn test_vlan_insert_strip() {
        let mut buf = [0u8; 22];
        buf[4..].copy_from_slice(&FRAME);
        vlan_insert(&mut buf, VlanTci { pcp: 5, dei: false, vid: 100 }).unwrap();
        assert_eq!(buf, TAGGED);
        let tci = vlan_strip(&mut buf).unwrap();
        assert_eq!(tci, VlanTci::from_u16(0xa064));
        assert_eq!(&buf[4..], &FRAME[..]);
        // Stripping an untagged frame is refused; short buffers are errors.
        assert_eq!(vlan_strip(&mut { FRAME }), Err(Error::Malformed));
        assert_eq!(vlan_strip(&mut { TAGGED }[..15]), Err(Error::Truncated));
        assert_eq!(vlan_insert(&mut [0u8; 17], VlanTci::default()), Err(Error::BufferTooSmall));
    }

    #[test]
    fn display() {
        assert_eq!(DST.to_string(), "00:11:22:33:44:55");
        assert_eq!(EtherType(0x1234).to_string(), "0x1234");
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3]), None);
    }

    proptest! {
        #[test]
        fn roundtrip(dst in any::<[u8; 6]>(), src in any::<[u8; 6]>(), tci in proptest::option::of(any::<u16>()), et in any::<u16>()) {
            // A tagged repr's inner type must not itself be a tag for parse to mirror emit.
            let et = if tci.is_none() && et == 0x8100 { 0x0800 } else { et };
            let r = EthernetRepr {
                dst_addr: EthernetAddress(dst),
                src_addr: EthernetAddress(src),
                vlan: tci.map(VlanTci::from_u16),
                ethertype: EtherType(et),
            };
            let mut buf = [0u8; 18];
            r.emit(&mut Frame::new_unchecked(&mut buf[..])).unwrap();
            let parsed = EthernetRepr::parse(&Frame::new_unchecked(&buf[..r.header_len()])).unwrap();
            prop_assert_eq!(parsed, r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(f) = Frame::new_checked(&data[..]) {
                let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload());
                if let Some(Ok(v)) = f.vlan() {
                    let _ = (v.tci(), v.ethertype(), v.payload());
                }
                let _ = EthernetRepr::parse(&f);
            }
            let mut d = data.clone();
            let _ = vlan_strip(&mut d);
            let _ = vlan_insert(&mut d, VlanTci::default());
        }
    }
}
