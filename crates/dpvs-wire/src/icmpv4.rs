//! ICMP for IPv4 (RFC 792, RFC 1191): echo request/reply and the error messages a load
//! balancer must understand (destination unreachable with fragmentation-needed MTU, time
//! exceeded), with safe access to the quoted packet.
//!
//! A [`Packet`]'s buffer must be exactly the ICMP message (the checksum covers all of it).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr};

use crate::field::{Field, Rest};
use crate::{be, checksum, clamp, ipv4, ChecksumMode, Error, IpProtocol, Result};

/// An ICMPv4 message type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Message(pub u8);

impl Message {
    /// Echo reply.
    pub const ECHO_REPLY: Message = Message(0);
    /// Destination unreachable.
    pub const DST_UNREACHABLE: Message = Message(3);
    /// Redirect.
    pub const REDIRECT: Message = Message(5);
    /// Echo request.
    pub const ECHO_REQUEST: Message = Message(8);
    /// Time exceeded.
    pub const TIME_EXCEEDED: Message = Message(11);
    /// Parameter problem.
    pub const PARAM_PROBLEM: Message = Message(12);

    /// True for error messages, which quote the offending packet.
    pub fn is_error(self) -> bool {
        matches!(self.0, 3 | 4 | 5 | 11 | 12)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Message::ECHO_REPLY => f.write_str("echo reply"),
            Message::DST_UNREACHABLE => f.write_str("destination unreachable"),
            Message::REDIRECT => f.write_str("redirect"),
            Message::ECHO_REQUEST => f.write_str("echo request"),
            Message::TIME_EXCEEDED => f.write_str("time exceeded"),
            Message::PARAM_PROBLEM => f.write_str("parameter problem"),
            Message(t) => write!(f, "type {t}"),
        }
    }
}

/// Destination-unreachable codes.
pub mod unreachable {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable.
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable.
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (carries the next-hop MTU).
    pub const FRAG_NEEDED: u8 = 4;
    /// Communication administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 13;
}

/// Time-exceeded codes.
pub mod time_exceeded {
    /// TTL exceeded in transit.
    pub const TTL: u8 = 0;
    /// Fragment reassembly time exceeded.
    pub const REASSEMBLY: u8 = 1;
}

mod field {
    use super::{Field, Rest};
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Field = 2..4;
    pub const ECHO_IDENT: Field = 4..6;
    pub const ECHO_SEQNO: Field = 6..8;
    pub const NEXT_HOP_MTU: Field = 6..8;
    pub const POINTER: usize = 4;
    pub const DATA: Rest = 8..;
}

/// Length of the header (type, code, checksum and the 4-byte rest-of-header).
pub const HEADER_LEN: usize = field::DATA.start;

/// Largest ICMP error datagram a router should send (RFC 1812: 576 bytes of IP).
pub const MAX_ERROR_LEN: usize = 576;

/// A view of an ICMPv4 message.
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

    /// Next-hop MTU of a fragmentation-needed message (RFC 1191).
    pub fn next_hop_mtu(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::NEXT_HOP_MTU])
    }

    /// Pointer of a parameter-problem message.
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Everything after the header: echo data, or the quoted packet of an error.
    pub fn data(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, usize::MAX)
    }

    /// The quoted packet of an error message, if it holds at least an IPv4 header.
    pub fn quote(&self) -> Result<Ipv4Quote<'_>> {
        Ipv4Quote::parse(self.data())
    }

    /// True if the checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
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

    /// Sets the rest-of-header word (bytes 4..8).
    pub fn set_rest_of_header(&mut self, v: u32) {
        be::put_u32(&mut self.buffer.as_mut()[4..8], v)
    }

    /// Sets the next-hop MTU.
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::NEXT_HOP_MTU], v)
    }

    /// Mutable data.
    pub fn data_mut(&mut self) -> &mut [u8] {
        crate::clamp_mut(self.buffer.as_mut(), HEADER_LEN, usize::MAX)
    }

    /// Computes and stores the checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }

    /// NAT of an ICMP error: rewrites addresses and ports of the quoted packet.
    ///
    /// The quoted IPv4 header checksum, the quoted TCP or UDP checksum (when the quote holds
    /// all of it; UDP's zero rules kept) and the ICMP checksum are all updated incrementally, so a
    /// correct message stays correct (an SCTP CRC is left alone). Port rewrites need a
    /// quoted TCP, UDP or SCTP header that is not a non-first fragment (`Unsupported`) with
    /// at least its 4 port bytes (`Truncated`). On error nothing is changed.
    pub fn rewrite_quote(&mut self, rw: &QuoteRewrite<Ipv4Addr>) -> Result<()> {
        let (hlen, proto, l4_ok) = {
            let q = self.quote()?;
            (q.header_len(), q.next_header(), !q.header().is_non_first_fragment())
        };
        let quote_len = self.data().len();
        check_port_rewrite(rw.rewrites_ports(), l4_ok, proto, quote_len.saturating_sub(hlen))?;
        let mut icmp = self.checksum();
        let data = self.data_mut();
        let (ip_bytes, l4) = data.split_at_mut(hlen.min(quote_len));
        let mut ip = ipv4::Packet::new_unchecked(ip_bytes);
        let mut addrs = [None, None];
        if let Some(new) = rw.src_addr {
            let c0 = ip.checksum();
            let old = ip.rewrite_src_addr(new);
            icmp = checksum::update_u16(checksum::update_v4(icmp, old, new), c0, ip.checksum());
            addrs[0] = Some((IpAddr::V4(old), IpAddr::V4(new)));
        }
        if let Some(new) = rw.dst_addr {
            let c0 = ip.checksum();
            let old = ip.rewrite_dst_addr(new);
            icmp = checksum::update_u16(checksum::update_v4(icmp, old, new), c0, ip.checksum());
            addrs[1] = Some((IpAddr::V4(old), IpAddr::V4(new)));
        }
        if l4_ok {
            icmp = rewrite_quoted_l4(l4, proto, addrs, rw, icmp);
        }
        self.set_checksum(icmp);
        Ok(())
    }
}

/// Address and port rewrites for the packet quoted in an ICMP error. `A` is `Ipv4Addr` or
/// `Ipv6Addr`; `None` leaves a field alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuoteRewrite<A> {
    /// New source address of the quoted packet.
    pub src_addr: Option<A>,
    /// New destination address of the quoted packet.
    pub dst_addr: Option<A>,
    /// New source port of the quoted packet.
    pub src_port: Option<u16>,
    /// New destination port of the quoted packet.
    pub dst_port: Option<u16>,
}

impl<A> Default for QuoteRewrite<A> {
    fn default() -> Self {
        QuoteRewrite { src_addr: None, dst_addr: None, src_port: None, dst_port: None }
    }
}

impl<A> QuoteRewrite<A> {
    pub(crate) fn rewrites_ports(&self) -> bool {
        self.src_port.is_some() || self.dst_port.is_some()
    }
}

/// Checks that ports can be rewritten in a quote before anything is changed.
pub(crate) fn check_port_rewrite(wanted: bool, l4_present: bool, proto: IpProtocol, l4_len: usize) -> Result<()> {
    if !wanted {
        return Ok(());
    }
    if !l4_present || !matches!(proto, IpProtocol::TCP | IpProtocol::UDP | IpProtocol::SCTP) {
        return Err(Error::Unsupported);
    }
    if l4_len < 4 {
        return Err(Error::Truncated);
    }
    Ok(())
}

/// Rewrites the ports of a quoted L4 header and updates its checksum (if quoted) for the
/// port and pseudo-header address changes; returns the ICMP checksum updated for every byte
/// changed here. All fields sit at even offsets of the ICMP message.
pub(crate) fn rewrite_quoted_l4<A>(
    l4: &mut [u8],
    proto: IpProtocol,
    addrs: [Option<(IpAddr, IpAddr)>; 2],
    rw: &QuoteRewrite<A>,
    mut icmp: u16,
) -> u16 {
    let is_udp = proto == IpProtocol::UDP;
    let csum_at = match proto {
        IpProtocol::TCP => Some(16),
        IpProtocol::UDP => Some(6),
        _ => None,
    }
    .filter(|&at| l4.len() >= at + 2);
    let old_l4c = csum_at.map(|at| be::u16(&l4[at..at + 2]));
    let mut l4c = old_l4c;
    for (old, new) in addrs.into_iter().flatten() {
        l4c = l4c.map(|c| {
            if is_udp {
                crate::udp::update_checksum_addr(c, old, new)
            } else {
                checksum::update_addr(c, old, new)
            }
        });
    }
    for (at, new) in [(0, rw.src_port), (2, rw.dst_port)] {
        let Some(new) = new else { continue };
        let Some(field) = l4.get_mut(at..at + 2) else { continue };
        let old = be::u16(field);
        be::put_u16(field, new);
        icmp = checksum::update_u16(icmp, old, new);
        l4c = l4c.map(|c| {
            if is_udp {
                crate::udp::update_checksum_u16(c, old, new)
            } else {
                checksum::update_u16(c, old, new)
            }
        });
    }
    if let (Some(at), Some(old), Some(new)) = (csum_at, old_l4c, l4c) {
        be::put_u16(&mut l4[at..at + 2], new);
        icmp = checksum::update_u16(icmp, old, new);
    }
    icmp
}

/// The IPv4 packet quoted in an ICMP error: its header in full, and whatever follows of the
/// upper layer (normally 8 bytes, possibly fewer or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Quote<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv4Quote<'a> {
    /// Accepts `bytes` if they hold a whole IPv4 header (version 4, options included); the
    /// quoted payload may be cut anywhere.
    pub fn parse(bytes: &'a [u8]) -> Result<Ipv4Quote<'a>> {
        let p = ipv4::Packet::new_checked_header(bytes)?;
        if p.version() != 4 {
            return Err(Error::Malformed);
        }
        Ok(Ipv4Quote { bytes })
    }

    /// All quoted bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// A view of the quoted header (its payload getter returns what was quoted).
    pub fn header(&self) -> ipv4::Packet<&'a [u8]> {
        ipv4::Packet::new_unchecked(self.bytes)
    }

    /// Length of the quoted IP header.
    pub fn header_len(&self) -> usize {
        self.header().header_len()
    }

    /// Source address of the quoted packet (the address that sent it: us, for an error
    /// about a packet we sent).
    pub fn src_addr(&self) -> Ipv4Addr {
        self.header().src_addr()
    }

    /// Destination address of the quoted packet.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.header().dst_addr()
    }

    /// Protocol of the quoted packet.
    pub fn next_header(&self) -> IpProtocol {
        self.header().next_header()
    }

    /// The quoted upper-layer bytes that are present (at most the first 8).
    pub fn l4(&self) -> &'a [u8] {
        let h = self.header_len();
        clamp(self.bytes, h, h + 8)
    }

    /// Source and destination ports for TCP, UDP and SCTP, if the quote holds them.
    pub fn ports(&self) -> Option<(u16, u16)> {
        quoted_ports(self.next_header(), self.l4())
    }
}

/// Ports from the first 4 bytes of a quoted TCP, UDP or SCTP header.
pub(crate) fn quoted_ports(proto: IpProtocol, l4: &[u8]) -> Option<(u16, u16)> {
    match proto {
        IpProtocol::TCP | IpProtocol::UDP | IpProtocol::SCTP => {
            let b = l4.get(..4)?;
            Some((be::u16(&b[..2]), be::u16(&b[2..])))
        }
        _ => None,
    }
}

/// The bytes of `ip_packet` to quote in an error that must fit `room` bytes (e.g.
/// `MAX_ERROR_LEN - 20 - 8`).
pub fn quote_of(ip_packet: &[u8], room: usize) -> &[u8] {
    clamp(ip_packet, 0, room)
}

/// A parsed ICMPv4 message of the kinds the dataplane handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
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
        /// Next-hop MTU (RFC 1191; zero unless the code is `FRAG_NEEDED`).
        next_hop_mtu: u16,
        /// The quoted packet (at least an IPv4 header).
        quote: &'a [u8],
    },
    /// Time exceeded.
    TimeExceeded {
        /// Code (see [`time_exceeded`]).
        code: u8,
        /// The quoted packet.
        quote: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Parses a message, verifying the checksum per `mode`. Other types are `Unsupported`;
    /// an error whose quote lacks a whole IPv4 header is `Truncated` or `Malformed`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>, mode: ChecksumMode) -> Result<Icmpv4Repr<'a>> {
        packet.check_len()?;
        if mode.verify() && !packet.verify_checksum() {
            return Err(Error::Checksum);
        }
        let data: &'a [u8] = clamp(T::as_ref(packet.buffer), HEADER_LEN, usize::MAX);
        let code = packet.msg_code();
        match packet.msg_type() {
            Message::ECHO_REQUEST if code == 0 => {
                Ok(Icmpv4Repr::EchoRequest { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data })
            }
            Message::ECHO_REPLY if code == 0 => {
                Ok(Icmpv4Repr::EchoReply { ident: packet.echo_ident(), seq_no: packet.echo_seq_no(), data })
            }
            Message::DST_UNREACHABLE => {
                Ipv4Quote::parse(data)?;
                Ok(Icmpv4Repr::DstUnreachable { code, next_hop_mtu: packet.next_hop_mtu(), quote: data })
            }
            Message::TIME_EXCEEDED => {
                Ipv4Quote::parse(data)?;
                Ok(Icmpv4Repr::TimeExceeded { code, quote: data })
            }
            _ => Err(Error::Unsupported),
        }
    }

    /// The quoted packet of an error message.
    pub fn quote(&self) -> Option<Ipv4Quote<'a>> {
        match *self {
            Icmpv4Repr::DstUnreachable { quote, .. } | Icmpv4Repr::TimeExceeded { quote, .. } => {
                Ipv4Quote::parse(quote).ok()
            }
            _ => None,
        }
    }

    /// The echo reply answering this echo request.
    pub fn echo_reply(&self) -> Option<Icmpv4Repr<'a>> {
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, data } => Some(Icmpv4Repr::EchoReply { ident, seq_no, data }),
            _ => None,
        }
    }

    fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DstUnreachable { quote, .. } | Icmpv4Repr::TimeExceeded { quote, .. } => quote,
        }
    }

    /// Header plus data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    /// Writes the message and its checksum. The buffer should be exactly
    /// [`buffer_len`](Self::buffer_len) long.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<()> {
        if packet.buffer.as_ref().len() < self.buffer_len() {
            return Err(Error::BufferTooSmall);
        }
        packet.set_rest_of_header(0);
        match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } | Icmpv4Repr::EchoReply { ident, seq_no, .. } => {
                let t = if matches!(self, Icmpv4Repr::EchoRequest { .. }) {
                    Message::ECHO_REQUEST
                } else {
                    Message::ECHO_REPLY
                };
                packet.set_msg_type(t);
                packet.set_msg_code(0);
                packet.set_echo_ident(ident);
                packet.set_echo_seq_no(seq_no);
            }
            Icmpv4Repr::DstUnreachable { code, next_hop_mtu, .. } => {
                packet.set_msg_type(Message::DST_UNREACHABLE);
                packet.set_msg_code(code);
                packet.set_next_hop_mtu(next_hop_mtu);
            }
            Icmpv4Repr::TimeExceeded { code, .. } => {
                packet.set_msg_type(Message::TIME_EXCEEDED);
                packet.set_msg_code(code);
            }
        }
        let body = self.body();
        packet.data_mut()[..body.len()].copy_from_slice(body);
        packet.fill_checksum();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Echo request id 0x1234 seq 1, "abcdefgh" (scapy-checked).
    static ECHO: [u8; 16] = [
        0x08, 0x00, 0x54, 0x35, 0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
        0x68,
    ];

    // Fragmentation needed, next-hop MTU 1400, quoting 10.0.0.1:80 -> 192.168.1.10:43210 TCP
    // (total length 1500, DF, TTL 63) header + 8 bytes (scapy-checked).
    static FRAG_NEEDED: [u8; 36] = [
        0x03, 0x04, 0x0a, 0x03, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00, 0x05, 0xdc, 0x42, 0x42, 0x40,
        0x00, 0x3f, 0x06, 0x28, 0x27, 0x0a, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x50,
        0xa8, 0xca, 0x11, 0x22, 0x33, 0x44,
    ];

    // TTL exceeded in transit, same quote.
    static TIME_EXCEEDED: [u8; 36] = [
        0x0b, 0x00, 0x07, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x05, 0xdc, 0x42, 0x42, 0x40,
        0x00, 0x3f, 0x06, 0x28, 0x27, 0x0a, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x50,
        0xa8, 0xca, 0x11, 0x22, 0x33, 0x44,
    ];

    #[test]
    fn test_deconstruct_echo() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), Message::ECHO_REQUEST);
        assert_eq!((p.msg_code(), p.checksum(), p.echo_ident(), p.echo_seq_no()), (0, 0x5435, 0x1234, 1));
        assert_eq!(p.data(), b"abcdefgh");
        assert!(p.verify_checksum());
        let r = Icmpv4Repr::parse(&p, ChecksumMode::Verify).unwrap();
        assert_eq!(r, Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abcdefgh" });
        assert!(r.quote().is_none());
    }

    #[test]
    fn test_deconstruct_frag_needed() {
        let p = Packet::new_checked(&FRAG_NEEDED[..]).unwrap();
        assert_eq!(p.msg_type(), Message::DST_UNREACHABLE);
        assert!(p.msg_type().is_error());
        assert_eq!(p.msg_code(), unreachable::FRAG_NEEDED);
        assert_eq!(p.next_hop_mtu(), 1400);
        assert!(p.verify_checksum());
        let q = p.quote().unwrap();
        assert_eq!(q.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(q.dst_addr(), Ipv4Addr::new(192, 168, 1, 10));
        assert_eq!(q.next_header(), IpProtocol::TCP);
        assert_eq!(q.header_len(), 20);
        assert_eq!(q.ports(), Some((80, 43210)));
        assert_eq!(q.l4(), &[0x00, 0x50, 0xa8, 0xca, 0x11, 0x22, 0x33, 0x44]);
        assert!(q.header().verify_checksum() && q.header().dont_frag());
        assert_eq!(q.header().total_len(), 1500);
        let r = Icmpv4Repr::parse(&p, ChecksumMode::Verify).unwrap();
        assert_eq!(r, Icmpv4Repr::DstUnreachable { code: 4, next_hop_mtu: 1400, quote: &FRAG_NEEDED[8..] });
        assert_eq!(r.quote(), Some(q));
    }

    #[test]
    fn test_deconstruct_time_exceeded() {
        let p = Packet::new_checked(&TIME_EXCEEDED[..]).unwrap();
        let r = Icmpv4Repr::parse(&p, ChecksumMode::Verify).unwrap();
        assert_eq!(r, Icmpv4Repr::TimeExceeded { code: time_exceeded::TTL, quote: &TIME_EXCEEDED[8..] });
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 16];
        let req = Icmpv4Repr::EchoRequest { ident: 0x1234, seq_no: 1, data: b"abcdefgh" };
        req.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf, ECHO);
        let mut buf = [0xffu8; 36];
        Icmpv4Repr::DstUnreachable { code: 4, next_hop_mtu: 1400, quote: &FRAG_NEEDED[8..] }
            .emit(&mut Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, FRAG_NEEDED);
        Icmpv4Repr::TimeExceeded { code: 0, quote: quote_of(&FRAG_NEEDED[8..], 548) }
            .emit(&mut Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, TIME_EXCEEDED);
        // The reply to a request.
        let mut buf = [0u8; 16];
        req.echo_reply().unwrap().emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        assert_eq!(buf[0], 0);
        assert!(Packet::new_unchecked(&buf[..]).verify_checksum());
        assert_eq!(req.emit(&mut Packet::new_unchecked(&mut [0u8; 15][..])), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(Packet::new_checked(&ECHO[..len]), Err(Error::Truncated));
        }
        // An error whose quote is cut inside the IP header is refused; cut after it, accepted,
        // with whatever L4 bytes remain.
        for len in HEADER_LEN..FRAG_NEEDED.len() {
            let mut buf = [0u8; 36];
            buf[..len].copy_from_slice(&FRAG_NEEDED[..len]);
            let mut p = Packet::new_unchecked(&mut buf[..len]);
            p.fill_checksum();
            let p = Packet::new_checked(&buf[..len]).unwrap();
            let r = Icmpv4Repr::parse(&p, ChecksumMode::Verify);
            if len < 28 {
                assert_eq!(r, Err(Error::Truncated), "len {len}");
            } else {
                let q = r.unwrap().quote().unwrap();
                assert_eq!(q.l4().len(), len - 28);
                assert_eq!(q.ports().is_some(), len >= 32);
            }
        }
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = ECHO;
        buf[15] = b'X';
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum());
        assert_eq!(Icmpv4Repr::parse(&p, ChecksumMode::Verify), Err(Error::Checksum));
        assert!(Icmpv4Repr::parse(&p, ChecksumMode::Ignore).is_ok());
    }

    #[test]
    fn test_unsupported_and_malformed_quote() {
        let mut buf = ECHO;
        buf[0] = 13; // timestamp request
        Packet::new_unchecked(&mut buf[..]).fill_checksum();
        assert_eq!(Icmpv4Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), ChecksumMode::Verify), Err(Error::Unsupported));
        let mut buf = FRAG_NEEDED;
        buf[8] = 0x65; // quoted version 6
        Packet::new_unchecked(&mut buf[..]).fill_checksum();
        assert_eq!(Icmpv4Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), ChecksumMode::Verify), Err(Error::Malformed));
        assert_eq!(format!("{:?}", Message(42)), "type 42");
    }

    /// An ICMP port-unreachable quoting the first `cut` bytes of a whole IPv4 UDP or TCP
    /// packet `src:sport -> dst:dport`, every checksum computed from scratch.
    fn error_quoting(tcp: bool, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, cut: usize) -> Vec<u8> {
        use crate::{tcp as t, udp as u};
        let (s, d) = (IpAddr::V4(src), IpAddr::V4(dst));
        let mut l4 = vec![0u8; if tcp { 24 } else { 12 }];
        if tcp {
            let r = t::TcpRepr {
                src_port: sport, dst_port: dport, flags: t::TcpFlags::SYN, seq_number: 7, ack_number: 0,
                window_len: 1000, urgent_at: 0, max_seg_size: Some(1460), window_scale: None,
                sack_permitted: false, sack_ranges: [None; 4], timestamp: None, payload: &[],
            };
            r.emit(&mut t::Packet::new_unchecked(&mut l4[..]), s, d).unwrap();
        } else {
            let r = u::UdpRepr { src_port: sport, dst_port: dport, payload: b"ping" };
            r.emit(&mut u::Packet::new_unchecked(&mut l4[..]), s, d).unwrap();
        }
        let ip = ipv4::Ipv4Repr {
            src_addr: src, dst_addr: dst, next_header: if tcp { IpProtocol::TCP } else { IpProtocol::UDP },
            payload_len: l4.len(), hop_limit: 64, dscp_ecn: 0, ident: 9, dont_frag: true, more_frags: false,
            frag_offset: 0,
        };
        let mut inner = vec![0u8; 20];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut inner[..])).unwrap();
        inner.extend(&l4);
        inner.truncate(cut);
        let r = Icmpv4Repr::DstUnreachable { code: unreachable::PORT, next_hop_mtu: 0, quote: &inner };
        let mut buf = vec![0u8; r.buffer_len()];
        r.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
        buf
    }

    #[test]
    fn test_rewrite_quote() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(192, 168, 1, 10);
        let r = Ipv4Addr::new(172, 16, 0, 9);
        for tcp in [false, true] {
            let mut msg = error_quoting(tcp, r, 8053, b, 12345, 64);
            let mut p = Packet::new_checked(&mut msg[..]).unwrap();
            p.rewrite_quote(&QuoteRewrite { src_addr: Some(a), src_port: Some(53), ..Default::default() }).unwrap();
            assert_eq!(msg, error_quoting(tcp, a, 53, b, 12345, 64), "tcp {tcp}");
            let p = Packet::new_checked(&msg[..]).unwrap();
            assert!(p.verify_checksum() && p.quote().unwrap().header().verify_checksum());
        }
        // Only 2 L4 bytes quoted: ports cannot be rewritten, nothing changes; an address can.
        let mut msg = error_quoting(false, r, 8053, b, 12345, 22);
        let before = msg.clone();
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        assert_eq!(p.rewrite_quote(&QuoteRewrite { src_addr: Some(a), dst_port: Some(1), ..Default::default() }), Err(Error::Truncated));
        assert_eq!(msg, before);
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        p.rewrite_quote(&QuoteRewrite { dst_addr: Some(a), ..Default::default() }).unwrap();
        assert_eq!(msg, error_quoting(false, r, 8053, a, 12345, 22));
        // Ports of an ICMP quote: unsupported.
        let mut msg = FRAG_NEEDED;
        msg[8 + 9] = 1;
        let mut p = Packet::new_checked(&mut msg[..]).unwrap();
        assert_eq!(p.rewrite_quote(&QuoteRewrite { src_port: Some(1), ..Default::default() }), Err(Error::Unsupported));
    }

    fn repr_strategy() -> impl Strategy<Value = (u8, u8, u16, u16, Vec<u8>)> {
        (0u8..4, any::<u8>(), any::<u16>(), any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40))
    }

    proptest! {
        #[test]
        fn roundtrip((kind, code, a, b, data) in repr_strategy()) {
            let mut quote = FRAG_NEEDED[8..28].to_vec();
            quote.extend(&data);
            let r = match kind {
                0 => Icmpv4Repr::EchoRequest { ident: a, seq_no: b, data: &data },
                1 => Icmpv4Repr::EchoReply { ident: a, seq_no: b, data: &data },
                2 => Icmpv4Repr::DstUnreachable { code, next_hop_mtu: a, quote: &quote },
                _ => Icmpv4Repr::TimeExceeded { code, quote: &quote },
            };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..])).unwrap();
            prop_assert_eq!(Icmpv4Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), ChecksumMode::Verify).unwrap(), r);
        }

        /// Incremental rewrite of a quote == building the rewritten error from scratch, at every
        /// quote length that holds the ports.
        #[test]
        fn rewrite_quote_matches_rebuild(tcp in any::<bool>(), old in any::<(u32, u16, u32, u16)>(), new in any::<(u32, u16, u32, u16)>(),
                                         which in 0u8..16, cut in 24usize..64) {
            // A quote that cuts the L4 checksum field in half cannot have it updated.
            prop_assume!(cut - 20 != if tcp { 17 } else { 7 });
            let pick = |bit: u8| which & bit != 0;
            let (os, osp, od, odp) = (Ipv4Addr::from(old.0), old.1, Ipv4Addr::from(old.2), old.3);
            let ns = if pick(1) { Ipv4Addr::from(new.0) } else { os };
            let nsp = if pick(2) { new.1 } else { osp };
            let nd = if pick(4) { Ipv4Addr::from(new.2) } else { od };
            let ndp = if pick(8) { new.3 } else { odp };
            let rw = QuoteRewrite {
                src_addr: pick(1).then_some(ns), src_port: pick(2).then_some(nsp),
                dst_addr: pick(4).then_some(nd), dst_port: pick(8).then_some(ndp),
            };
            let mut msg = error_quoting(tcp, os, osp, od, odp, cut);
            Packet::new_checked(&mut msg[..]).unwrap().rewrite_quote(&rw).unwrap();
            prop_assert_eq!(msg, error_quoting(tcp, ns, nsp, nd, ndp, cut));
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.msg_type(), p.msg_code(), p.echo_ident(), p.echo_seq_no(), p.next_hop_mtu(), p.pointer());
                let _ = (p.data(), p.verify_checksum());
                if let Ok(q) = p.quote() {
                    let _ = (q.src_addr(), q.dst_addr(), q.l4(), q.ports(), q.header().payload(), q.header().options());
                }
                if let Ok(r) = Icmpv4Repr::parse(&p, ChecksumMode::Ignore) {
                    let _ = r.quote();
                }
            }
            let mut d = data.clone();
            if let Ok(mut p) = Packet::new_checked(&mut d[..]) {
                let rw = QuoteRewrite { src_addr: Some(Ipv4Addr::LOCALHOST), dst_addr: None, src_port: Some(1), dst_port: Some(2) };
                let _ = p.rewrite_quote(&rw);
                let _ = p.rewrite_quote(&QuoteRewrite { dst_addr: Some(Ipv4Addr::LOCALHOST), ..Default::default() });
            }
        }
    }
}
