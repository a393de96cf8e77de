//! ICMP for IPv6 (RFC 4443): echo request/reply and the error messages (destination
//! unreachable, packet too big, time exceeded, parameter problem) with safe access to the
//! quoted packet. The checksum covers the IPv6 pseudo-header.
//!
//! A [`Packet`]'s buffer must be exactly the ICMPv6 message.

use core::fmt;
use core::net::{IpAddr, Ipv6Addr};

use crate::field::{Field, Rest};
use crate::icmpv4::{check_port_rewrite, quoted_ports, rewrite_quoted_l4, QuoteRewrite};
use crate::ipv6::{self, UpperLayer};
use crate::{be, checksum, clamp, clamp_mut, ChecksumMode, Error, IpProtocol, Result};

/// An ICMPv6 message type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Message(pub u8);

impl Message {
    /// Destination unreachable.
    pub const DST_UNREACHABLE: Message = Message(1);
    /// Packet too big.
    pub const PKT_TOO_BIG: Message = Message(2);
    /// Time exceeded.
    pub const TIME_EXCEEDED: Message = Message(3);
    /// Parameter problem.
    pub const PARAM_PROBLEM: Message = Message(4);
    /// Echo request.
    pub const ECHO_REQUEST: Message = Message(128);
    /// Echo reply.
    pub const ECHO_REPLY: Message = Message(129);
    /// NDP router solicitation.
    pub const ROUTER_SOLICIT: Message = Message(133);
    /// NDP router advertisement.
    pub const ROUTER_ADVERT: Message = Message(134);
    /// NDP neighbour solicitation.
    pub const NEIGHBOR_SOLICIT: Message = Message(135);
    /// NDP neighbour advertisement.
    pub const NEIGHBOR_ADVERT: Message = Message(136);
    /// NDP redirect.
    pub const REDIRECT: Message = Message(137);

    /// True for error messages (types below 128), which quote the offending packet.
    pub fn is_error(self) -> bool {
        self.0 < 128
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Message::DST_UNREACHABLE => f.write_str("destination unreachable"),
            Message::PKT_TOO_BIG => f.write_str("packet too big"),
            Message::TIME_EXCEEDED => f.write_str("time exceeded"),
            Message::PARAM_PROBLEM => f.write_str("parameter problem"),
            Message::ECHO_REQUEST => f.write_str("echo request"),
            Message::ECHO_REPLY => f.write_str("echo reply"),
            Message::NEIGHBOR_SOLICIT => f.write_str("neighbor solicitation"),
            Message::NEIGHBOR_ADVERT => f.write_str("neighbor advertisement"),
            Message(t) => write!(f, "type {t}"),
        }
    }
}

/// Destination-unreachable codes.
pub mod unreachable {
    /// No route to destination.
    pub const NO_ROUTE: u8 = 0;
    /// Administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    /// Address unreachable.
    pub const ADDRESS: u8 = 3;
    /// Port unreachable.
    pub const PORT: u8 = 4;
}

mod field {
    use super::{Field, Rest};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const MTU: Field = 4..8;
    pub const POINTER: Field = 4..8;
    pub const DATA: Rest = 8..;
}

/// Length of the header.
pub const HEADER_LEN: usize = field::DATA.start;

/// An error message must fit the IPv6 minimum MTU (RFC 4443 §2.4(c)).
pub const MAX_ERROR_LEN: usize = 1280;

/// A view of an ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer and checks it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// `Err(Truncated)` if shorter than the header.
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

    /// Message type.
    pub fn msg_type(&self) -> Message {
        Message(self.buffer.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::ECHO_IDENT])
    }

    /// Echo sequence number.
    pub fn echo_seq_no(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::ECHO_SEQNO])
    }

    /// MTU of a packet-too-big message.
    pub fn mtu(&self) -> u32 {
        be::u32(&self.buffer.as_ref()[field::MTU])
    }

    /// Pointer of a parameter-problem message.
    pub fn pointer(&self) -> u32 {
        be::u32(&self.buffer.as_ref()[field::POINTER])
    }

    /// Everything after the header.
    pub fn data(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, usize::MAX)
    }

    /// The quoted packet of an error message, if it holds at least an IPv6 header.
    pub fn quote(&self) -> Result<Ipv6Quote<'_>> {
        Ipv6Quote::parse(self.data())
    }

    /// True if the checksum verifies with the pseudo-header of `src`/`dst`.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        match u32::try_from(data.len()) {
            Ok(len) => {
                let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, len);
                checksum::checksum_with_pseudo(ph, data) == 0
            }
            Err(_) => false,
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the type.
    pub fn set_msg_type(&mut self, v: Message) {
        self.buffer.as_mut()[field::TYPE] = v.0
    }

    /// Sets the code.
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::CHECKSUM], v)
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::ECHO_IDENT], v)
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::ECHO_SEQNO], v)
    }

    /// Sets the 32-bit rest-of-header word (MTU, pointer, or unused).
    pub fn set_rest_of_header(&mut self, v: u32) {
        be::put_u32(&mut self.buffer.as_mut()[field::MTU], v)
    }

    /// Mutable data.
    pub fn data_mut(&mut self) -> &mut [u8] {
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, usize::MAX)
    }

    /// Computes and stores the checksum.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) -> Result<()> {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let len = u32::try_from(data.len()).map_err(|_| Error::Malformed)?;
        let ph = checksum::pseudo_header_v6(src, dst, IpProtocol::ICMPV6, len);
        let c = checksum::checksum_with_pseudo(ph, data);
        self.set_checksum(c);
        Ok(())
    }

    /// NAT: updates the checksum for a pseudo-header address change.
    pub fn update_checksum_addr(&mut self, old: Ipv6Addr, new: Ipv6Addr) {
        let c = checksum::update_addr(self.checksum(), IpAddr::V6(old), IpAddr::V6(new));
        self.set_checksum(c);
    }

    /// NAT of an ICMPv6 error: rewrites addresses and ports of the quoted packet, updating
    /// the quoted TCP/UDP checksum (when quoted) and the ICMPv6 checksum incrementally.
    ///
    /// Port rewrites need the quoted extension headers to be walkable and a TCP, UDP or SCTP
    /// header that is not a non-first fragment (`Unsupported`, or the walker's error) with at
    /// least its 4 port bytes (`Truncated`). On error nothing is changed.
    pub fn rewrite_quote(&mut self, rw: &QuoteRewrite<Ipv6Addr>) -> Result<()> {
        let ul = self.quote()?.upper_layer();
        let l4 = match ul {
            Ok(ul) if ul.has_header() => Some((ipv6::HEADER_LEN + ul.offset, ul.protocol)),
            Ok(_) => None,
            Err(e) if rw.rewrites_ports() => return Err(e),
            Err(_) => None,
        };
        let quote_len = self.data().len();
        let (l4_at, proto) = l4.unwrap_or((quote_len, IpProtocol::IPV6_NONXT));
        check_port_rewrite(rw.rewrites_ports(), l4.is_some(), proto, quote_len.saturating_sub(l4_at))?;
        let mut icmp = self.checksum();
        let data = self.data_mut();
        let mut addrs = [None, None];
        for (i, (range, new)) in [(8..24, rw.src_addr), (24..40, rw.dst_addr)].into_iter().enumerate() {
            let Some(new) = new else { continue };
            let field = &mut data[range];
            let old = Ipv6Addr::from(<[u8; 16]>::try_from(&*field).unwrap_or([0; 16]));
            field.copy_from_slice(&new.octets());
            icmp = checksum::update_v6(icmp, old, new);
            addrs[i] = Some((IpAddr::V6(old), IpAddr::V6(new)));
        }
        if l4.is_some() {
            icmp = rewrite_quoted_l4(clamp_mut(data, l4_at, usize::MAX), proto, addrs, rw, icmp);
        }
        self.set_checksum(icmp);
        Ok(())
    }
}

/// The IPv6 packet quoted in an ICMPv6 error: a whole fixed header, then whatever was
/// quoted (possibly cut inside the extension headers or the upper layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Quote<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv6Quote<'a> {
    /// Accepts `bytes` if they hold an IPv6 fixed header with version 6.
    pub fn parse(bytes: &'a [u8]) -> Result<Ipv6Quote<'a>> {
        let p = ipv6::Packet::new_checked_header(bytes)?;
        if p.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Quote { bytes })
    }

    /// All quoted bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// A view of the quoted header (its payload getter returns what was quoted).
    pub fn header(&self) -> ipv6::Packet<&'a [u8]> {
        ipv6::Packet::new_unchecked(self.bytes)
    }

    /// Source address of the quoted packet.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.header().src_addr()
    }

    /// Destination address of the quoted packet.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.header().dst_addr()
    }

    fn payload(&self) -> &'a [u8] {
        clamp(self.bytes, ipv6::HEADER_LEN, usize::MAX)
    }

    /// Walks the quoted extension headers (`Truncated` if the quote stops inside them).
    pub fn upper_layer(&self) -> Result<UpperLayer> {
        ipv6::upper_layer(self.header().next_header(), self.payload())
    }

    /// The quoted upper-layer bytes that are present (at most the first 8); empty if the
    /// extension headers cannot be walked or the packet was a non-first fragment.
    pub fn l4(&self) -> &'a [u8] {
        match self.upper_layer() {
            Ok(ul) if ul.has_header() => clamp(self.payload(), ul.offset, ul.offset + 8),
            _ => &[],
        }
    }

    /// Source and destination ports for TCP, UDP and SCTP, if the quote holds them.
    pub fn ports(&self) -> Option<(u16, u16)> {
        let ul = self.upper_layer().ok()?;
        quoted_ports(ul.protocol, self.l4())
    }
}

/// A parsed ICMPv6 message of the kinds the dataplane handles (NDP is parsed elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Echo request.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Echo reply.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// Data.
        data: &'a [u8],
    },
    /// Destination unreachable.
    DstUnreachable {
        /// Code (see [`unreachable`](mod@unreachable)).
        code: u8,
        /// The quoted packet.
        quote: &'a [u8],
    },
    /// Packet too big.
    PktTooBig {
        /// MTU of the next hop.
        mtu: u32,
        /// The quoted packet.
        quote: &'a [u8],
    },
    /// Time exceeded.
    TimeExceeded {
        /// Code: 0 hop limit, 1 reassembly.
        code: u8,
        /// The quoted packet.
        quote: &'a [u8],
    },
    /// Parameter problem.
    ParamProblem {
        /// Code.
        code: u8,
        /// Offset of the offending byte in the quoted packet.
        pointer: u32,
        /// The quoted packet.
        quote: &'a [u8],
    },
}

impl<'a> Icmpv6Repr<'a> {
    /// Parses a message, verifying the checksum per `mode`. Other types are `Unsupported`;
    /// an error whose quote lacks an IPv6 header is `Truncated` or `Malformed`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        mode: ChecksumMode,
    ) -> Result<Icmpv6Repr<'a>> {
        packet.check_len()?;
        if mode.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let data: &'a [u8] = clamp(T::as_ref(packet.buffer), HEADER_LEN, usize::MAX);
        let code = packet.msg_code();
        let t = packet.msg_type();
        if matches!(t.0, 1..=4) {
            Ipv6Quote::parse(data)?;
        }
        match t {
            Message::ECHO_REQUEST if code == 0 => {
                Ok(Icmpv6Repr::EchoRequest { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data })
            }
            Message::ECHO_REPLY if code == 0 => {
                Ok(Icmpv6Repr::EchoReply { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data })
            }
            Message::DST_UNREACHABLE => Ok(Icmpv6Repr::DstUnreachable { code, quote: data }),
            Message::PKT_TOO_BIG if code == 0 => Ok(Icmpv6Repr::PktTooBig { mtu: packet.mtu(), quote: data }),
            Message::TIME_EXCEEDED => Ok(Icmpv6Repr::TimeExceeded { code, quote: data }),
            Message::PARAM_PROBLEM => Ok(Icmpv6Repr::ParamProblem { code, pointer: packet.pointer(), quote: data }),
            _ => Err(Error::Unsupported),
        }
    }

    /// The quoted packet of an error message.
    pub fn quote(&self) -> Option<Ipv6Quote<'a>> {
        match *self {
            Icmpv6Repr::EchoRequest { .. } | Icmpv6Repr::EchoReply { .. } => None,
            _ => Ipv6Quote::parse(self.body()).ok(),
        }
    }

    /// The echo reply answering this echo request.
    pub fn echo_reply(&self) -> Option<Icmpv6Repr<'a>> {
        match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, data } => Some(Icmpv6Repr::EchoReply { ident, seq_no, data }),
            _ => None,
        }
    }

    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => data,
            Icmpv6Repr::DstUnreachable { quote, .. }
            | Icmpv6Repr::PktTooBig { quote, .. }
            | Icmpv6Repr::TimeExceeded { quote, .. }
            | Icmpv6Repr::ParamProblem { quote, .. } => quote,
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    /// Writes the message and its checksum for `src`/`dst`. The buffer should be exactly
    /// [`buffer_len`](Self::buffer_len) long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, src: Ipv6Addr, dst: Ipv6Addr) -> Result<()> {
        if packet.buffer.as_ref().len() < self.buffer_len() {
            return Err(Error::BufferTooSmall);
        }
        let (t, code, rest) = match *self {
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                (Message::ECHO_REQUEST, 0, (u32::from(ident) << 16) | u32::from(seq_no))
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                (Message::ECHO_REPLY, 0, (u32::from(ident) << 16) | u32::from(seq_no))
            }
            Icmpv6Repr::DstUnreachable { code, .. } => (Message::DST_UNREACHABLE, code, 0),
            Icmpv6Repr::PktTooBig { mtu, .. } => (Message::PKT_TOO_BIG, 0, mtu),
            Icmpv6Repr::TimeExceeded { code, .. } => (Message::TIME_EXCEEDED, code, 0),
            Icmpv6Repr::ParamProblem { code, pointer, .. } => (Message::PARAM_PROBLEM, code, pointer),
        };
        packet.set_msg_type(t);
        packet.set_msg_code(code);
        packet.set_rest_of_header(rest);
        let body = self.body();
        packet.data_mut()[..body.len()].copy_from_slice(body);
        packet.fill_checksum(src, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last)
    }

    // 2001:db8::1 -> 2001:db8::2 echo request id 0x1234 seq 1 "abcdefgh" (scapy-checked).
    static ECHO: [u8; 16] = [
        0x80, 0x00, 0x80, 0x75, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];

    // 2001:db8::fe -> 2001:db8::2 packet too big, MTU 1280, quoting
    // [2001:db8::2]:443 -> [2001:db8::1]:54321 TCP (payload length 1460, hop limit 63)
    // header + 8 bytes (scapy-checked).
    static TOO_BIG: [u8; 56] = [
        0x02, 0x00, 0xba, 0x5f, 0x00, 0x00, 0x05, 0x00, 0x60, 0x00, 0x00, 0x00, 0x05, 0xb4, 0x06,
        0x3f, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x01, 0xbb, 0xd4, 0x31, 0x11, 0x22, 0x33, 0x44,
    ];

    #[test]
    fn test_deconstruct_echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), Message::ECHO_REQUEST);
        assert!(!p.msg_type().is_error());
        assert_eq!((p.msg_code(), p.checksum(), p.echo_ident(), p.echo_seq_no()), (0, 0x8075, 0x1234, 1));
        assert!(p.verify_checksum(a(1), a(2)));
        assert!(!p.verify_checksum(a(1), a(3)));
        let r = Icmpv6Repr::parse(&p, a(1), a(2), ChecksumMode::Verify).unwrap();
        assert_eq!(r, Icmpv6Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abcdefgh" });
    }

    #[test]
    fn test_deconstruct_too_big() {
        let p = Packet::new_checked(&TOO_BIG[..]).unwrap();
        assert_eq!(p.msg_type(), Message::PKT_TOO_BIG);
        assert_eq!(p.mtu(), 1280);
        assert!(p.verify_checksum(a(0xfe), a(2)));
        let q = p.quote().unwrap();
        assert_eq!((q.src_addr(), q.dst_addr()), (a(2), a(1)));
        let ul = q.upper_layer().unwrap();
        assert_eq!((ul.protocol, ul.offset), (IpProtocol::TCP, 0));
        assert_eq!(q.ports(), Some((443, 54321)));
        assert_eq!(q.l4().len(), 8);
        assert_eq!(q.header().payload_len(), 1460);
        let r = Icmpv6Repr::parse(&p, a(0xfe), a(2), ChecksumMode::Verify).unwrap();
        assert_eq!(r, Icmpv6Repr::PktTooBig { mtu: 1280, quote: &TOO_BIG[8..] });
        assert_eq!(r.quote(), Some(q));
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 16];
        let req = Icmpv6Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abcdefgh" };
        req.emit(&mut Packet::new_unchecked(&mut buf[..]), a(1), a(2)).unwrap();
        assert_eq!(buf, ECHO);
        let mut buf = [0xffu8; 56];
        Icmpv6Repr::PktTooBig { mtu: 1280, quote: &TOO_BIG[8..] }
            .emit(&mut Packet::new_unchecked(&mut buf[..]), a(0xfe), a(2))
            .unwrap();
        assert_eq!(buf, TOO_BIG);
        // Port unreachable with the same quote: header checked with scapy.
        Icmpv6Repr::DstUnreachable { code: unreachable::PORT, quote: &TOO_BIG[8..] }
            .emit(&mut Packet::new_unchecked(&mut buf[..]), a(0xfe), a(2))
            .unwrap();
        assert_eq!(&buf[..8], &[0x01, 0x04, 0xc0, 0x5b, 0, 0, 0, 0]);
        let mut buf = [0u8; 16];
        req.echo_reply().unwrap().emit(&mut Packet::new_unchecked(&mut buf[..]), a(2), a(1)).unwrap();
        assert_eq!(buf[0], 129);
        assert!(Packet::new_unchecked(&buf[..]).verify_checksum(a(2), a(1)));
        assert_eq!(req.emit(&mut Packet::new_unchecked(&mut [0u8; 15][..]), a(1), a(2)), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ECHO[..len]), Err(Error::Truncated));
        }
        for len in HEADER_LEN..TOO_BIG.len() {
            let mut buf = [0u8; 56];
            buf[..len].copy_from_slice(&TOO_BIG[..len]);
            Packet::new_unchecked(&mut buf[..len]).fill_checksum(a(0xfe), a(2)).unwrap();
            let p = Packet::new_checked(&buf[..len]).unwrap();
            let r = Icmpv6Repr::parse(&p, a(0xfe), a(2), ChecksumMode::Verify);
            if len < 48 {
                assert_eq!(r, Err(Error::Truncated), "len {len}");
            } else {
                let q = r.unwrap().quote().unwrap();
                assert_eq!(q.l4().len(), len - 48);
                assert_eq!(q.ports().is_some(), len >= 52);
            }
        }
    }

    #[test]
    fn test_quote_with_extension_headers() {
        // Quoted packet: fixed header (next = fragment), fragment header (next TCP, offset 0),
        // then 4 bytes of TCP.
        let mut q = [0u8; 52];
        q[..40].copy_from_slice(&TOO_BIG[8..48]);
        q[6] = 44;
        q[40..48].copy_from_slice(&[6, 0, 0, 1, 0, 0, 0, 9]);
        q[48..52].copy_from_slice(&[0x01, 0xbb, 0xd4, 0x31]);
        let quote = Ipv6Quote::parse(&q).unwrap();
        assert_eq!(quote.ports(), Some((443, 54321)));
        assert!(quote.upper_layer().unwrap().is_fragment());
        // Cut inside the fragment header: the walk fails, no L4 bytes.
        let quote = Ipv6Quote::parse(&q[..44]).unwrap();
        assert_eq!(quote.upper_layer(), Err(Error::Truncated));
        assert!(quote.l4().is_empty() && quote.ports().is_none());
        // Non-first fragment: no L4 header to expose.
        q[42] = 0x05;
        q[43] = 0xa8;
        let quote = Ipv6Quote::parse(&q).unwrap();
        assert!(quote.l4().is_empty());
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = TOO_BIG;
        buf[7] = 0x01; // MTU 1281
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum(a(0xfe), a(2)));
        assert_eq!(Icmpv6Repr::parse(&p, a(0xfe), a(2), ChecksumMode::Verify), Err(Error::Checksum));
        assert!(Icmpv6Repr::parse(&p, a(0xfe), a(2), ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn test_unsupported_and_nat() {
        let mut buf = ECHO;
        buf[0] = Message::NEIGHBOR_SOLICIT.0;
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Icmpv6Repr::parse(&p, a(1), a(2), ChecksumMode::Ignore), Err(Error::Unsupported));
        let mut buf = ECHO;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.update_checksum_addr(a(2), a(0x99));
        assert!(p.verify_checksum(a(1), a(0x99)));
        assert_eq!(format!("{:?}", Message(200)), "type 200");
    }

    /// A port-unreachable from 2001:db8::fe to 2001:db8::2 quoting the first `cut` bytes of a
    /// whole IPv6 UDP or TCP packet (with a fragment header if `frag`), every checksum
    /// computed from scratch.
    fn error_quoting(tcp: bool, frag: bool, src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16, cut: usize) -> Vec<u8> {
        use crate::{tcp as t, udp as u};
        let (s, d) = (IpAddr::V6(src), IpAddr::V6(dst));
        let mut l4 = vec![0u8; if tcp { 24 } else { 12 }];
        if tcp {
            let r = t::TcpRepr {
                src_port: sport, dst_port: dport, flags: t::TcpFlags::SYN, seq_number: 7, ack_number: 0,
                window_len: 1000, urgent_at: 0, max_seg_size: Some(1440), window_scale: None,
                sack_permitted: false, sack_ranges: [None; 4], timestamp: None, payload: &[],
            };
            r.emit(&mut t::Packet::new_unchecked(&mut l4[..]), s, d).unwrap();
        } else {
            let r = u::UdpRepr { src_port: sport, dst_port: dport, payload: b"ping" };
            r.emit(&mut u::Packet::new_unchecked(&mut l4[..]), s, d).unwrap();
        }
        let proto = if tcp { IpProtocol::TCP } else { IpProtocol::UDP };
        let mut ext = vec![];
        if frag {
            ext = vec![0u8; 8];
            ipv6::FragmentRepr { next_header: proto, offset: 0, more_frags: true, ident: 5 }.emit(&mut ext).unwrap();
        }
        let ip = ipv6::Ipv6Repr {
            src_addr: src, dst_addr: dst, next_header: if frag { IpProtocol::IPV6_FRAG } else { proto },
            payload_len: ext.len() + l4.len(), hop_limit: 64, traffic_class: 0, flow_label: 0,
        };
        let mut inner = vec![0u8; 40];
        ip.emit(&mut ipv6::Packet::new_unchecked(&mut inner[..])).unwrap();
        inner.extend(&ext);
        inner.extend(&l4);
        inner.truncate(cut);
        let r = Icmpv6Repr::DstUnreachable { code: unreachable::PORT, quote: &inner };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..]), a(0xfe), a(2)).unwrap();
        buf
    }

    #[test]
    fn test_rewrite_quote() {
        let vip = a(0x80);
        let real = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 9);
        for (tcp, frag) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut msg = error_quoting(tcp, frag, real, 8443, a(1), 54321, 100);
            let mut p = Packet::new_checked(&mut msg[..]).unwrap();
            p.rewrite_quote(&QuoteRewrite { src_addr: Some(vip), src_port: Some(443), ..Default::default() }).unwrap();
            assert_eq!(msg, error_quoting(tcp, frag, vip, 443, a(1), 54321, 100), "tcp {tcp} frag {frag}");
            assert!(Packet::new_checked(&msg[..]).unwrap().verify_checksum(a(0xfe), a(2)));
        }
        // Quote cut inside the fragment header: addresses only.
        let mut msg = error_quoting(false, true, real, 8443, a(1), 54321, 44);
        let before = msg.clone();
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        assert_eq!(p.rewrite_quote(&QuoteRewrite { src_port: Some(1), ..Default::default() }), Err(Error::Truncated));
        assert_eq!(msg, before);
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        p.rewrite_quote(&QuoteRewrite { src_addr: Some(vip), ..Default::default() }).unwrap();
        assert_eq!(msg, error_quoting(false, true, vip, 8443, a(1), 54321, 44));
        // Non-first fragment: no ports to rewrite.
        let mut msg = error_quoting(false, true, real, 8443, a(1), 54321, 100);
        msg[8 + 42] = 0x05;
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        assert_eq!(p.rewrite_quote(&QuoteRewrite { src_port: Some(1), ..Default::default() }), Err(Error::Unsupported));
    }

    proptest! {
        /// Incremental rewrite of a quote == building the rewritten error from scratch.
        #[test]
        fn rewrite_quote_matches_rebuild(tcp in any::<bool>(), frag in any::<bool>(), old in any::<(u128, u16, u128, u16)>(),
                                         new in any::<(u128, u16, u128, u16)>(), which in 0u8..16, cut in 44usize..100) {
            let hdrs = if frag { 48 } else { 40 };
            prop_assume!(cut >= hdrs + 4);
            // A quote that cuts the L4 checksum field in half cannot have it updated.
            prop_assume!(cut - hdrs != if tcp { 17 } else { 7 });
            let pick = |bit: u8| which & bit != 0;
            let (os, osp, od, odp) = (Ipv6Addr::from(old.0), old.1, Ipv6Addr::from(old.2), old.3);
            let ns = if pick(1) { Ipv6Addr::from(new.0) } else { os };
            let nsp = if pick(2) { new.1 } else { osp };
            let nd = if pick(4) { Ipv6Addr::from(new.2) } else { od };
            let ndp = if pick(8) { new.3 } else { odp };
            let rw = QuoteRewrite {
                src_addr: pick(1).then_some(ns), src_port: pick(2).then_some(nsp),
                dst_addr: pick(4).then_some(nd), dst_port: pick(8).then_some(ndp),
            };
            let mut msg = error_quoting(tcp, frag, os, osp, od, odp, cut);
            Packet::new_checked(&mut msg[..]).unwrap().rewrite_quote(&rw).unwrap();
            prop_assert_eq!(msg, error_quoting(tcp, frag, ns, nsp, nd, ndp, cut));
        }

        #[test]
        fn roundtrip(kind in 0u8..6, code in any::<u8>(), x in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut quote = TOO_BIG[8..48].to_vec();
            quote.extend(&data);
            let r = match kind {
                0 => Icmpv6Repr::EchoRequest { ident: x as u16, seq_no: (x >> 16) as u16, data: &data },
                1 => Icmpv6Repr::EchoReply { ident: x as u16, seq_no: (x >> 16) as u16, data: &data },
                2 => Icmpv6Repr::DstUnreachable { code, quote: &quote },
                3 => Icmpv6Repr::PktTooBig { mtu: x, quote: &quote },
                4 => Icmpv6Repr::TimeExceeded { code, quote: &quote },
                _ => Icmpv6Repr::ParamProblem { code, pointer: x, quote: &quote },
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), a(1), a(2)).unwrap();
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Icmpv6Repr::parse(&p, a(1), a(2), ChecksumMode::Verify).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.msg_type(), p.msg_code(), p.echo_ident(), p.echo_seq_no(), p.mtu(), p.pointer());
                let _ = (p.data(), p.verify_checksum(a(1), a(2)));
                if let Ok(q) = p.quote() {
                    let _ = (q.src_addr(), q.dst_addr(), q.upper_layer(), q.l4(), q.ports());
                }
                if let Ok(r) = Icmpv6Repr::parse(&p, a(1), a(2), ChecksumMode::Ignore) {
                    let _ = r.quote();
                }
            }
            let mut d = data.clone();
            if let Ok(mut p) = Packet::new_checked(&mut d[..]) {
                let rw = QuoteRewrite { src_addr: Some(a(1)), dst_addr: Some(a(2)), src_port: Some(1), dst_port: None };
                let _ = p.rewrite_quote(&rw);
                let _ = p.rewrite_quote(&QuoteRewrite { dst_addr: Some(a(3)), ..Default::default() });
            }
        }
    }
}
