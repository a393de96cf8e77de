//! IPv6 (RFC 8200): the fixed header, and a walker over extension headers that finds the
//! upper-layer protocol and flags fragments.

use core::net::Ipv6Addr;

use crate::field::Field;
use crate::{be, clamp, clamp_mut, Error, IpProtocol, Result};

mod field {
    use super::Field;
    pub const VER_TC_FLOW: Field = 0..4;
    pub const LENGTH: Field = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Field = 8..24;
    pub const DST_ADDR: Field = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = field::DST_ADDR.end;

/// A view of an IPv6 packet.
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

    /// Wraps a buffer holding at least the fixed header, maybe not the whole payload (the
    /// packet quoted in an ICMPv6 error).
    pub fn new_checked_header(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    /// `Err(Truncated)` unless the fixed header and `payload_len` bytes are present.
    /// Bytes after the payload (Ethernet padding) are ignored.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < HEADER_LEN + usize::from(self.payload_len()) {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn word0(&self) -> u32 {
        be::u32(&self.buffer.as_ref()[field::VER_TC_FLOW])
    }

    /// Version (6).
    pub fn version(&self) -> u8 {
        (self.word0() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.word0() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.word0() & 0x000f_ffff
    }

    /// Payload length (extension headers included).
    pub fn payload_len(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::LENGTH])
    }

    /// The first next-header value.
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.buffer.as_ref()[field::NXT_HDR])
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(addr(&self.buffer.as_ref()[field::SRC_ADDR]))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(addr(&self.buffer.as_ref()[field::DST_ADDR]))
    }

    /// The payload (extension headers included), clamped to the buffer.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, HEADER_LEN + usize::from(self.payload_len()))
    }

    /// Walks the extension headers; see [`upper_layer`].
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        upper_layer(self.next_header(), self.payload())
    }

    /// Iterates over the extension headers; see [`ExtHeaders`].
    pub fn ext_headers(&self) -> ExtHeaders<'_> {
        ExtHeaders::new(self.next_header(), self.payload())
    }
}

fn addr(b: &[u8]) -> [u8; 16] {
    b.try_into().unwrap_or([0; 16])
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_word0(&mut self, v: u32) {
        be::put_u32(&mut self.buffer.as_mut()[field::VER_TC_FLOW], v)
    }

    /// Sets the version.
    pub fn set_version(&mut self, v: u8) {
        let w = self.word0();
        self.set_word0((w & 0x0fff_ffff) | (u32::from(v & 0xf) << 28))
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, v: u8) {
        let w = self.word0();
        self.set_word0((w & 0xf00f_ffff) | (u32::from(v) << 20))
    }

    /// Sets the flow label (masked to 20 bits).
    pub fn set_flow_label(&mut self, v: u32) {
        let w = self.word0();
        self.set_word0((w & 0xfff0_0000) | (v & 0x000f_ffff))
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::LENGTH], v)
    }

    /// Sets the first next header.
    pub fn set_next_header(&mut self, v: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = v.0
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets())
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets())
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Forwarding: decrements the hop limit and returns it, or `None` (unchanged) if it is 0
    /// or 1. IPv6 has no header checksum to update.
    pub fn decrement_hop_limit(&mut self) -> Option<u8> {
        let h = self.hop_limit();
        if h <= 1 {
            return None;
        }
        self.set_hop_limit(h - 1);
        Some(h - 1)
    }
}

/// A parsed IPv6 fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// First next header (an extension header or the upper layer).
    pub next_header: IpProtocol,
    /// Payload length, extension headers included.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses the fixed header (version and lengths checked).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
        })
    }

    /// Always 40.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header; the payload is the caller's.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        let len = u16::try_from(self.payload_len).map_err(|_| Error::Malformed)?;
        if self.flow_label > 0x000f_ffff {
            return Err(Error::Malformed);
        }
        packet.set_word0(0x6000_0000);
        packet.set_traffic_class(self.traffic_class);
        packet.set_flow_label(self.flow_label);
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        Ok(())
    }
}

/// True for the next-header values this walker treats as extension headers: hop-by-hop,
/// routing, fragment, destination options, AH, and the RFC 7045 mobility/HIP/shim6 headers
/// that share the generic length format. ESP ends the walk: what follows is encrypted.
pub fn is_extension_header(p: IpProtocol) -> bool {
    matches!(p.0, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140)
}

/// One extension header met by [`ExtHeaders`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader<'a> {
    /// Which header this is.
    pub kind: IpProtocol,
    /// The header that follows it.
    pub next_header: IpProtocol,
    /// Offset of this header from the start of the IPv6 payload.
    pub offset: usize,
    /// The whole header, next-header byte included.
    pub data: &'a [u8],
}

impl ExtHeader<'_> {
    /// For a fragment header, its fields.
    pub fn fragment(&self) -> Option<FragmentRepr> {
        if self.kind == IpProtocol::IPV6_FRAG {
            FragmentRepr::parse(self.data).ok()
        } else {
            None
        }
    }
}

/// An iterator over the extension headers of an IPv6 payload.
///
/// Yields each header, then stops at the first non-extension header, after a fragment header
/// with a non-zero offset (the rest is fragment data), or after yielding one error
/// (`Truncated` when a header runs past the payload, `Malformed` for a hop-by-hop header that is
/// not first). [`ExtHeaders::upper_layer`] tells where it stopped.
#[derive(Debug, Clone)]
pub struct ExtHeaders<'a> {
    next: IpProtocol,
    payload: &'a [u8],
    offset: usize,
    fragment: Option<FragmentRepr>,
    done: bool,
}

impl<'a> ExtHeaders<'a> {
    /// Starts a walk with the fixed header's next-header value over the IPv6 payload.
    pub fn new(first: IpProtocol, payload: &'a [u8]) -> ExtHeaders<'a> {
        ExtHeaders { next: first, payload, offset: 0, fragment: None, done: false }
    }

    /// Where the walk stands: the protocol after the last header yielded, its offset, and the
    /// fragment header met so far.
    pub fn upper_layer(&self) -> UpperLayer {
        UpperLayer { protocol: self.next, offset: self.offset, fragment: self.fragment }
    }

    fn step(&mut self) -> Result<Option<ExtHeader<'a>>> {
        let kind = self.next;
        if !is_extension_header(kind) {
            return Ok(None);
        }
        if kind == IpProtocol::HOPOPT && self.offset != 0 {
            return Err(Error::Malformed);
        }
        let rest = self.payload.get(self.offset..).unwrap_or(&[]);
        if rest.len() < 2 {
            return Err(Error::Truncated);
        }
        let len = match kind {
            IpProtocol::IPV6_FRAG => 8,
            IpProtocol::AH => (usize::from(rest[1]) + 2) * 4,
            _ => (usize::from(rest[1]) + 1) * 8,
        };
        let data = rest.get(..len).ok_or(Error::Truncated)?;
        let hdr = ExtHeader { kind, next_header: IpProtocol(data[0]), offset: self.offset, data };
        self.offset += len;
        self.next = hdr.next_header;
        if let Some(frag) = hdr.fragment() {
            self.fragment = Some(frag);
            if frag.offset != 0 {
                // The rest is fragment data, not headers.
                self.done = true;
            }
        }
        Ok(Some(hdr))
    }
}

impl<'a> Iterator for ExtHeaders<'a> {
    type Item = Result<ExtHeader<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(h)) => Some(Ok(h)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Where the upper-layer header of an IPv6 packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpperLayer {
    /// Upper-layer protocol (TCP, UDP, ICMPv6, ESP, no-next-header, ...).
    pub protocol: IpProtocol,
    /// Its offset from the start of the IPv6 payload.
    pub offset: usize,
    /// The fragment header, if the packet is a fragment.
    pub fragment: Option<FragmentRepr>,
}

impl UpperLayer {
    /// True when the packet is a fragment (any fragment header, as Linux treats atomic
    /// fragments too).
    pub fn is_fragment(&self) -> bool {
        self.fragment.is_some()
    }

    /// True when the upper-layer header is present (not a non-first fragment).
    pub fn has_header(&self) -> bool {
        match self.fragment {
            Some(f) => f.offset == 0,
            None => true,
        }
    }
}

/// Walks the extension headers of `payload` starting with `first` and returns where the
/// upper layer starts.
pub fn upper_layer(first: IpProtocol, payload: &[u8]) -> Result<UpperLayer> {
    let mut walk = ExtHeaders::new(first, payload);
    for h in walk.by_ref() {
        h?;
    }
    Ok(walk.upper_layer())
}

/// Length of a fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// A parsed IPv6 fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragmentRepr {
    /// The header after the fragment header.
    pub next_header: IpProtocol,
    /// Fragment offset in bytes (a multiple of 8).
    pub offset: u16,
    /// More fragments.
    pub more_frags: bool,
    /// Identification.
    pub ident: u32,
}

impl FragmentRepr {
    /// Parses an 8-byte fragment header.
    pub fn parse(data: &[u8]) -> Result<FragmentRepr> {
        let d = data.get(..FRAGMENT_HEADER_LEN).ok_or(Error::Truncated)?;
        let off = be::u16(&d[2..4]);
        Ok(FragmentRepr {
            next_header: IpProtocol(d[0]),
            offset: off & 0xfff8,
            more_frags: off & 1 != 0,
            ident: be::u32(&d[4..8]),
        })
    }

    /// Writes an 8-byte fragment header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let d = buf.get_mut(..FRAGMENT_HEADER_LEN).ok_or(Error::BufferTooSmall)?;
        if self.offset & 7 != 0 {
            return Err(Error::Malformed);
        }
        d[0] = self.next_header.0;
        d[1] = 0;
        be::put_u16(&mut d[2..4], self.offset | u16::from(self.more_frags));
        be::put_u32(&mut d[4..8], self.ident);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // 2001:db8::1 -> 2001:db8::2, TC 0x28, flow 0x12345, hop limit 64;
    // hop-by-hop (PadN) -> destination options (PadN) -> fragment (offset 0, M, id deadbeef)
    // -> UDP (8 bytes, zero checksum: not verified here).
    static PACKET: [u8; 72] = [
        0x62, 0x81, 0x23, 0x45, 0x00, 0x20, 0x00, 0x40, // ver/tc/flow, len 32, HBH, hop 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // src
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // dst
        0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // HBH: next dst-opts, PadN(4)
        0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // dst-opts: next fragment
        0x11, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, // fragment: next UDP, off 0, M
        0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00, // UDP 12345 -> 53
    ];

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: "2001:db8::1".parse().unwrap(),
            dst_addr: "2001:db8::2".parse().unwrap(),
            next_header: IpProtocol::HOPOPT,
            payload_len: 32,
            hop_limit: 64,
            traffic_class: 0x28,
            flow_label: 0x12345,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&PACKET[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0x28);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 32);
        assert_eq!(p.next_header(), IpProtocol::HOPOPT);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.payload().len(), 32);
        assert_eq!(Ipv6Repr::parse(&p).unwrap(), repr());
        let ul = p.upper_layer().unwrap();
        assert_eq!(ul.protocol, IpProtocol::UDP);
        assert_eq!(ul.offset, 24);
        assert!(ul.is_fragment() && ul.has_header());
        assert_eq!(
            ul.fragment,
            Some(FragmentRepr { next_header: IpProtocol::UDP, offset: 0, more_frags: true, ident: 0xdeadbeef })
        );
        let kinds: Vec<_> = p.ext_headers().map(|h| h.unwrap().kind).collect();
        assert_eq!(kinds, [IpProtocol::HOPOPT, IpProtocol::IPV6_OPTS, IpProtocol::IPV6_FRAG]);
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 72];
        buf[40..].copy_from_slice(&PACKET[40..]);
        repr().emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, PACKET);
        let mut frag = [0u8; 8];
        FragmentRepr { next_header: IpProtocol::UDP, offset: 0, more_frags: true, ident: 0xdeadbeef }
            .emit(&mut frag)
            .unwrap();
        assert_eq!(frag, PACKET[56..64]);
    }

    #[test]
    fn test_truncated() {
        for len in 0..PACKET.len() {
            assert_eq!(Packet::new_checked(&PACKET[..len]), Err(Error::Truncated));
        }
        // The walker reports truncation at every cut inside the extension headers.
        for cut in 0..24 {
            assert_eq!(upper_layer(IpProtocol::HOPOPT, &PACKET[40..40 + cut]), Err(Error::Truncated), "{cut}");
        }
        assert!(upper_layer(IpProtocol::HOPOPT, &PACKET[40..64]).is_ok());
    }

    #[test]
    fn test_non_first_fragment() {
        // fragment header with offset 1448 and no M: the walk stops there.
        let data = [0x06, 0x00, 0x05, 0xa8, 0, 0, 0, 1, 0xff, 0xff];
        let ul = upper_layer(IpProtocol::IPV6_FRAG, &data).unwrap();
        assert_eq!(ul.protocol, IpProtocol::TCP);
        assert_eq!(ul.offset, 8);
        assert!(ul.is_fragment() && !ul.has_header());
        assert_eq!(ul.fragment.unwrap().offset, 1448);
        assert!(!ul.fragment.unwrap().more_frags);
    }

    #[test]
    fn test_routing_and_ah() {
        // routing header (len 2 -> 24 bytes) then AH (payload len 4 -> 24 bytes) then TCP.
        let mut data = [0u8; 48];
        data[0] = 51;
        data[1] = 2;
        data[24] = 6;
        data[25] = 4;
        let ul = upper_layer(IpProtocol::IPV6_ROUTE, &data).unwrap();
        assert_eq!((ul.protocol, ul.offset, ul.fragment), (IpProtocol::TCP, 48, None));
        assert_eq!(upper_layer(IpProtocol::IPV6_ROUTE, &data[..47]), Err(Error::Truncated));
        // ESP and no-next-header end the walk immediately.
        assert_eq!(upper_layer(IpProtocol::ESP, &[]).unwrap().protocol, IpProtocol::ESP);
        assert_eq!(upper_layer(IpProtocol::IPV6_NONXT, &[]).unwrap().offset, 0);
    }

    #[test]
    fn test_hop_by_hop_not_first() {
        let data = [0x00, 0x00, 1, 4, 0, 0, 0, 0, 0x11, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(upper_layer(IpProtocol::IPV6_OPTS, &data), Err(Error::Malformed));
    }

    #[test]
    fn test_setters() {
        let mut buf = PACKET;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_traffic_class(0xff);
        p.set_flow_label(0xfffff);
        assert_eq!((p.version(), p.traffic_class(), p.flow_label()), (6, 0xff, 0xfffff));
        p.set_version(6);
        p.payload_mut()[0] = 0x11;
        assert_eq!(p.next_header(), IpProtocol::HOPOPT);
        assert_eq!(p.decrement_hop_limit(), Some(63));
        p.set_hop_limit(1);
        assert_eq!(p.decrement_hop_limit(), None);
        p.set_payload_len(1000);
        assert_eq!(p.payload().len(), 32);
        let bad = Ipv6Repr { flow_label: 0x100000, ..repr() };
        assert_eq!(bad.emit(&mut Packet::new_unchecked(&mut [0u8; 40][..])), Err(Error::Malformed));
        assert_eq!(repr().emit(&mut Packet::new_unchecked(&mut [0u8; 39][..])), Err(Error::BufferTooSmall));
    }

    proptest! {
        #[test]
        fn roundtrip(src in any::<u128>(), dst in any::<u128>(), nh in any::<u8>(), len in 0usize..64,
                     hop in any::<u8>(), tc in any::<u8>(), flow in 0u32..0x100000) {
            let r = Ipv6Repr {
                src_addr: Ipv6Addr::from(src), dst_addr: Ipv6Addr::from(dst), next_header: IpProtocol(nh),
                payload_len: len, hop_limit: hop, traffic_class: tc, flow_label: flow,
            };
            let mut buf = vec![0u8; 40 + len];
            r.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Ipv6Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap(), r);
        }

        #[test]
        fn fragment_roundtrip(nh in any::<u8>(), off in 0u16..8192, m in any::<bool>(), id in any::<u32>()) {
            let f = FragmentRepr { next_header: IpProtocol(nh), offset: off * 8, more_frags: m, ident: id };
            let mut b = [0u8; 8];
            f.emit(&mut b).unwrap();
            prop_assert_eq!(FragmentRepr::parse(&b).unwrap(), f);
        }

        #[test]
        fn arbitrary_bytes_never_panic(first in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = upper_layer(IpProtocol(first), &data);
            for h in ExtHeaders::new(IpProtocol(first), &data).flatten() {
                let _ = h.fragment();
            }
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.version(), p.traffic_class(), p.flow_label(), p.src_addr(), p.dst_addr());
                let _ = (p.payload(), p.upper_layer(), Ipv6Repr::parse(&p));
            }
        }
    }
}
