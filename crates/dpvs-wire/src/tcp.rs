//! TCP (RFC 9293): header, flags, options, checksum over the IPv4/IPv6 pseudo-header, and
//! the in-place rewrites a load balancer does (ports, addresses, sequence numbers, MSS clamp)
//! with incremental checksum updates.
//!
//! A [`Packet`]'s buffer must be exactly the TCP segment (as `ipv4::Packet::payload` returns
//! it): its length is the segment length used in the pseudo-header.

use core::fmt;
use core::net::IpAddr;

use crate::checksum;
use crate::field::Field;
use crate::{be, clamp, clamp_mut, ChecksumMode, Error, IpProtocol, Result};

mod field {
    use super::Field;
    pub const SRC_PORT: Field = 0..2;
    pub const DST_PORT: Field = 2..4;
    pub const SEQ_NUM: Field = 4..8;
    pub const ACK_NUM: Field = 8..12;
    pub const FLAGS: Field = 12..14;
    pub const WIN_SIZE: Field = 14..16;
    pub const CHECKSUM: Field = 16..18;
    pub const URGENT: Field = 18..20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = field::URGENT.end;
/// Longest header (data offset 15).
pub const MAX_HEADER_LEN: usize = 60;

/// TCP control flags (the 9 bits after the data offset).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags(0);
    /// FIN.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// RST.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// PSH.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// URG.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECE.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// CWR.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// NS (historic ECN nonce).
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// All flag bits.
    pub const MASK: u16 = 0x1ff;

    /// True if every flag of `other` is set.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if any flag of `other` is set.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0
    }
}

impl fmt::Display for TcpFlags {
    /// tcpdump-style letters: `S`, `S.`, `P.`, `F.`, `R`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letters = [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
            (TcpFlags::NS, 'N'),
            (TcpFlags::ACK, '.'),
        ];
        if self.0 & TcpFlags::MASK == 0 {
            return f.write_str("none");
        }
        for (flag, c) in letters {
            if self.contains(flag) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TcpFlags({self})")
    }
}

/// Option kinds.
pub mod kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMP: u8 = 8;
}

/// A TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpOption<'a> {
    /// End of option list; what follows is padding.
    EndOfList,
    /// Padding.
    NoOperation,
    /// MSS.
    MaxSegmentSize(u16),
    /// Window scale shift.
    WindowScale(u8),
    /// SACK permitted.
    SackPermitted,
    /// 1 to 4 SACK blocks `(left, right)`; unused slots are `None` and come last.
    SackRange([Option<(u32, u32)>; 4]),
    /// Timestamps.
    Timestamp {
        /// Sender's timestamp value.
        tsval: u32,
        /// Echoed timestamp.
        tsecr: u32,
    },
    /// Any other option, kept with its data (the bytes after kind and length).
    Unknown {
        /// Kind.
        kind: u8,
        /// Data.
        data: &'a [u8],
    },
}

impl<'a> TcpOption<'a> {
    /// Parses one option from the start of `buf`; returns the rest and the option.
    ///
    /// `Truncated` if the option runs past `buf`, `Malformed` for a length below 2 or a known
    /// option with the wrong length.
    pub fn parse(buf: &'a [u8]) -> Result<(&'a [u8], TcpOption<'a>)> {
        let (&k, _) = buf.split_first().ok_or(Error::Truncated)?;
        match k {
            kind::EOL => return Ok((&buf[1..], TcpOption::EndOfList)),
            kind::NOP => return Ok((&buf[1..], TcpOption::NoOperation)),
            _ => {}
        }
        let len = usize::from(*buf.get(1).ok_or(Error::Truncated)?);
        if len < 2 {
            return Err(Error::Malformed);
        }
        let whole = buf.get(..len).ok_or(Error::Truncated)?;
        let data = &whole[2..];
        let opt = match (k, len) {
            (kind::MSS, 4) => TcpOption::MaxSegmentSize(be::u16(data)),
            (kind::WINDOW_SCALE, 3) => TcpOption::WindowScale(data[0]),
            (kind::SACK_PERMITTED, 2) => TcpOption::SackPermitted,
            (kind::SACK, 10 | 18 | 26 | 34) => {
                let mut ranges = [None; 4];
                for (slot, block) in ranges.iter_mut().zip(data.chunks_exact(8)) {
                    *slot = Some((be::u32(&block[..4]), be::u32(&block[4..])));
                }
                TcpOption::SackRange(ranges)
            }
            (kind::TIMESTAMP, 10) => {
                TcpOption::Timestamp { tsval: be::u32(&data[..4]), tsecr: be::u32(&data[4..]) }
            }
            (kind::MSS | kind::WINDOW_SCALE | kind::SACK_PERMITTED | kind::SACK | kind::TIMESTAMP, _) => {
                return Err(Error::Malformed)
            }
            (k, _) => TcpOption::Unknown { kind: k, data },
        };
        Ok((&buf[len..], opt))
    }

    /// Bytes this option takes when emitted.
    pub fn buffer_len(&self) -> usize {
        match self {
            TcpOption::EndOfList | TcpOption::NoOperation => 1,
            TcpOption::MaxSegmentSize(_) => 4,
            TcpOption::WindowScale(_) => 3,
            TcpOption::SackPermitted => 2,
            TcpOption::SackRange(r) => 2 + 8 * r.iter().flatten().count(),
            TcpOption::Timestamp { .. } => 10,
            TcpOption::Unknown { data, .. } => 2 + data.len(),
        }
    }

    /// Writes the option to the start of `buf` and returns the rest.
    pub fn emit<'b>(&self, buf: &'b mut [u8]) -> Result<&'b mut [u8]> {
        let len = self.buffer_len();
        let invalid = match self {
            TcpOption::SackRange(_) => len == 2,
            TcpOption::Unknown { kind: k, .. } => *k <= kind::NOP,
            _ => false,
        };
        if len > 255 || invalid {
            return Err(Error::Malformed);
        }
        if buf.len() < len {
            return Err(Error::BufferTooSmall);
        }
        let (out, rest) = buf.split_at_mut(len);
        match *self {
            TcpOption::EndOfList => out[0] = kind::EOL,
            TcpOption::NoOperation => out[0] = kind::NOP,
            _ => {
                out[1] = len as u8;
                match *self {
                    TcpOption::MaxSegmentSize(m) => {
                        out[0] = kind::MSS;
                        be::put_u16(&mut out[2..], m);
                    }
                    TcpOption::WindowScale(s) => {
                        out[0] = kind::WINDOW_SCALE;
                        out[2] = s;
                    }
                    TcpOption::SackPermitted => out[0] = kind::SACK_PERMITTED,
                    TcpOption::SackRange(r) => {
                        out[0] = kind::SACK;
                        for (block, (l, r)) in out[2..].chunks_exact_mut(8).zip(r.iter().flatten()) {
                            be::put_u32(&mut block[..4], *l);
                            be::put_u32(&mut block[4..], *r);
                        }
                    }
                    TcpOption::Timestamp { tsval, tsecr } => {
                        out[0] = kind::TIMESTAMP;
                        be::put_u32(&mut out[2..6], tsval);
                        be::put_u32(&mut out[6..10], tsecr);
                    }
                    TcpOption::Unknown { kind, data } => {
                        out[0] = kind;
                        out[2..].copy_from_slice(data);
                    }
                    TcpOption::EndOfList | TcpOption::NoOperation => {}
                }
            }
        }
        Ok(rest)
    }
}

/// Iterator over the options of a header: yields each option (padding included), stops after
/// `EndOfList`, at the end of the bytes, or after yielding one error.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> TcpOptions<'a> {
    /// Iterates over raw option bytes.
    pub fn new(options: &'a [u8]) -> TcpOptions<'a> {
        TcpOptions { rest: options, offset: 0, done: false }
    }

    /// Offset (within the option bytes) of the option the next call will return.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        match TcpOption::parse(self.rest) {
            Ok((rest, opt)) => {
                self.offset += self.rest.len() - rest.len();
                self.rest = rest;
                if opt == TcpOption::EndOfList {
                    self.done = true;
                }
                Some(Ok(opt))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A view of a TCP segment.
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

    /// `Truncated` if the fixed header or the options do not fit, `Malformed` for a data
    /// offset below 5.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            Err(Error::Malformed)
        } else if hlen > len {
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be::u32(&self.buffer.as_ref()[field::SEQ_NUM])
    }

    /// Acknowledgement number.
    pub fn ack_number(&self) -> u32 {
        be::u32(&self.buffer.as_ref()[field::ACK_NUM])
    }

    fn flags_word(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::FLAGS])
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.flags_word() >> 12) * 4
    }

    /// The control flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.flags_word() & TcpFlags::MASK)
    }

    /// FIN set.
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// SYN set.
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// RST set.
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// PSH set.
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// ACK set.
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// URG set.
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// Window field (unscaled).
    pub fn window_len(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::WIN_SIZE])
    }

    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        be::u16(&self.buffer.as_ref()[field::URGENT])
    }

    /// Raw option bytes.
    pub fn options(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// Iterator over the options.
    pub fn options_iter(&self) -> TcpOptions<'_> {
        TcpOptions::new(self.options())
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        clamp(self.buffer.as_ref(), self.header_len(), usize::MAX)
    }

    /// Sequence space the segment occupies: payload length plus one for SYN and one for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload().len() + usize::from(self.syn()) + usize::from(self.fin())
    }

    /// True if the checksum verifies with the pseudo-header of `src`/`dst` (false if their
    /// families differ).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let data = self.buffer.as_ref();
        match checksum::pseudo_header(src, dst, IpProtocol::TCP, data.len()) {
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

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        be::put_u32(&mut self.buffer.as_mut()[field::SEQ_NUM], v)
    }

    /// Sets the acknowledgement number.
    pub fn set_ack_number(&mut self, v: u32) {
        be::put_u32(&mut self.buffer.as_mut()[field::ACK_NUM], v)
    }

    /// Sets the flags, keeping the data offset.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let w = (self.flags_word() & 0xf000) | (flags.0 & TcpFlags::MASK);
        be::put_u16(&mut self.buffer.as_mut()[field::FLAGS], w)
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, len: usize) {
        let off = (len.min(MAX_HEADER_LEN) / 4) as u16;
        let w = (self.flags_word() & 0x0fff) | (off << 12);
        be::put_u16(&mut self.buffer.as_mut()[field::FLAGS], w)
    }

    /// Sets the window.
    pub fn set_window_len(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::WIN_SIZE], v)
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::CHECKSUM], v)
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        be::put_u16(&mut self.buffer.as_mut()[field::URGENT], v)
    }

    /// Computes and stores the checksum with the pseudo-header of `src`/`dst`.
    /// `Err(Malformed)` if the families differ or the segment is too long for IPv4.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let ph = checksum::pseudo_header(src, dst, IpProtocol::TCP, data.len()).ok_or(Error::Malformed)?;
        let c = checksum::checksum_with_pseudo(ph, data);
        self.set_checksum(c);
        Ok(())
    }

    /// Mutable option bytes.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        clamp_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        clamp_mut(self.buffer.as_mut(), start, usize::MAX)
    }

    /// NAT: sets the source port with an incremental checksum update; returns the old port.
    pub fn rewrite_src_port(&mut self, new: u16) -> u16 {
        let old = self.src_port();
        self.set_src_port(new);
        let c = checksum::update_u16(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// NAT: sets the destination port with an incremental checksum update; returns the old
    /// port.
    pub fn rewrite_dst_port(&mut self, new: u16) -> u16 {
        let old = self.dst_port();
        self.set_dst_port(new);
        let c = checksum::update_u16(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// NAT: updates the checksum for a pseudo-header address change (the IP header was
    /// rewritten from `old` to `new`).
    pub fn update_checksum_addr(&mut self, old: IpAddr, new: IpAddr) {
        let c = checksum::update_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// Sets the sequence number with an incremental checksum update (SYN-proxy and full-NAT
    /// sequence adjustment); returns the old value.
    pub fn rewrite_seq_number(&mut self, new: u32) -> u32 {
        let old = self.seq_number();
        self.set_seq_number(new);
        let c = checksum::update_u32(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// Sets the acknowledgement number with an incremental checksum update; returns the old
    /// value.
    pub fn rewrite_ack_number(&mut self, new: u32) -> u32 {
        let old = self.ack_number();
        self.set_ack_number(new);
        let c = checksum::update_u32(self.checksum(), old, new);
        self.set_checksum(c);
        old
    }

    /// Lowers an existing MSS option to `max` in place, with an incremental checksum update.
    ///
    /// Returns the old MSS if it was above `max` and has been rewritten, `None` if there is no
    /// MSS option or it is already at most `max`. Options are not added or moved. Malformed
    /// options before the MSS give an error and leave the segment unchanged.
    pub fn clamp_mss(&mut self, max: u16) -> Result<Option<u16>> {
        let mut found = None;
        let mut iter = self.options_iter();
        loop {
            let at = iter.offset();
            match iter.next() {
                None => break,
                Some(Err(e)) => return Err(e),
                Some(Ok(TcpOption::MaxSegmentSize(mss))) => {
                    found = Some((HEADER_LEN + at + 2, mss));
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
        let Some((pos, old)) = found else { return Ok(None) };
        if old <= max {
            return Ok(None);
        }
        be::put_u16(&mut self.buffer.as_mut()[pos..pos + 2], max);
        let c = if pos % 2 == 0 {
            checksum::update_u16(self.checksum(), old, max)
        } else {
            checksum::update_u16_odd(self.checksum(), old, max)
        };
        self.set_checksum(c);
        Ok(Some(old))
    }
}

/// TCP timestamps option values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpTimestamp {
    /// Sender's timestamp value.
    pub tsval: u32,
    /// Echo reply.
    pub tsecr: u32,
}

/// A parsed TCP segment. Unknown options are skipped on parse and not emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Control flags.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq_number: u32,
    /// Acknowledgement number (meaningful with ACK).
    pub ack_number: u32,
    /// Window (unscaled).
    pub window_len: u16,
    /// Urgent pointer.
    pub urgent_at: u16,
    /// MSS option.
    pub max_seg_size: Option<u16>,
    /// Window scale option.
    pub window_scale: Option<u8>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// SACK blocks.
    pub sack_ranges: [Option<(u32, u32)>; 4],
    /// Timestamps option.
    pub timestamp: Option<TcpTimestamp>,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a segment, verifying the checksum against `src`/`dst` per `mode`. Malformed
    /// options make the segment `Malformed`.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Packet<&'a T>,
        src: IpAddr,
        dst: IpAddr,
        mode: ChecksumMode,
    ) -> Result<TcpRepr<'a>> {
        packet.check_len()?;
        if packet.dst_port() == 0 {
            return Err(Error::Malformed);
        }
        if mode.verify() && !packet.verify_checksum(src, dst) {
            return Err(Error::Checksum);
        }
        let buffer: &'a [u8] = T::as_ref(packet.buffer);
        let hlen = packet.header_len();
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            flags: packet.flags(),
            seq_number: packet.seq_number(),
            ack_number: packet.ack_number(),
            window_len: packet.window_len(),
            urgent_at: packet.urgent_at(),
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload: clamp(buffer, hlen, usize::MAX),
        };
        for opt in TcpOptions::new(clamp(buffer, HEADER_LEN, hlen)) {
            match opt.map_err(|_| Error::Malformed)? {
                TcpOption::MaxSegmentSize(m) => repr.max_seg_size = Some(m),
                TcpOption::WindowScale(s) => repr.window_scale = Some(s),
                TcpOption::SackPermitted => repr.sack_permitted = true,
                TcpOption::SackRange(r) => repr.sack_ranges = r,
                TcpOption::Timestamp { tsval, tsecr } => repr.timestamp = Some(TcpTimestamp { tsval, tsecr }),
                TcpOption::EndOfList | TcpOption::NoOperation | TcpOption::Unknown { .. } => {}
            }
        }
        Ok(repr)
    }

    fn sack_count(&self) -> usize {
        self.sack_ranges.iter().flatten().count()
    }

    /// Length of the options as emitted (a multiple of 4).
    pub fn options_len(&self) -> usize {
        let mut len = 0;
        if self.max_seg_size.is_some() {
            len += 4;
        }
        if self.timestamp.is_some() {
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        let n = self.sack_count();
        if n > 0 {
            len += 4 + 8 * n;
        }
        len
    }

    /// Header length as emitted.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Writes the segment (options in Linux's order: MSS, SACK-permitted/timestamps, window
    /// scale, SACK blocks; NOP-padded) and fills the checksum for `src`/`dst`.
    ///
    /// `Malformed` if the options exceed 40 bytes or the addresses' families differ,
    /// `BufferTooSmall` if the buffer cannot hold [`buffer_len`](Self::buffer_len) bytes. The
    /// packet's buffer should be exactly `buffer_len` long (the checksum covers all of it).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, src: IpAddr, dst: IpAddr) -> Result<()> {
        let hlen = self.header_len();
        if hlen > MAX_HEADER_LEN {
            return Err(Error::Malformed);
        }
        if packet.buffer.as_ref().len() < hlen + self.payload.len() {
            return Err(Error::BufferTooSmall);
        }
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq_number);
        packet.set_ack_number(self.ack_number);
        be::put_u16(&mut packet.buffer.as_mut()[field::FLAGS], ((hlen as u16 / 4) << 12) | (self.flags.0 & TcpFlags::MASK));
        packet.set_window_len(self.window_len);
        packet.set_urgent_at(self.urgent_at);
        {
            let mut buf = packet.options_mut();
            if let Some(m) = self.max_seg_size {
                buf = TcpOption::MaxSegmentSize(m).emit(buf)?;
            }
            if let Some(ts) = self.timestamp {
                buf = if self.sack_permitted {
                    TcpOption::SackPermitted.emit(buf)?
                } else {
                    let b = TcpOption::NoOperation.emit(buf)?;
                    TcpOption::NoOperation.emit(b)?
                };
                buf = TcpOption::Timestamp { tsval: ts.tsval, tsecr: ts.tsecr }.emit(buf)?;
            } else if self.sack_permitted {
                buf = TcpOption::NoOperation.emit(buf)?;
                buf = TcpOption::NoOperation.emit(buf)?;
                buf = TcpOption::SackPermitted.emit(buf)?;
            }
            if let Some(s) = self.window_scale {
                buf = TcpOption::NoOperation.emit(buf)?;
                buf = TcpOption::WindowScale(s).emit(buf)?;
            }
            if self.sack_count() > 0 {
                buf = TcpOption::NoOperation.emit(buf)?;
                buf = TcpOption::NoOperation.emit(buf)?;
                buf = TcpOption::SackRange(self.sack_ranges).emit(buf)?;
            }
            debug_assert!(buf.is_empty());
        }
        packet.payload_mut()[..self.payload.len()].copy_from_slice(self.payload);
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

    // Linux-style SYN 192.168.1.10:43210 -> 10.0.0.1:80, seq 0x01020304, win 64240,
    // <mss 1460, sackOK, TS val 12345678 ecr 0, nop, wscale 7>. Checksum cross-checked
    // with scapy.
    static SYN: [u8; 40] = [
        0xa8, 0xca, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x72, 0x31, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0xbc,
        0x61, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    // [2001:db8::1]:54321 -> [2001:db8::2]:443, P., seq 1 ack 2 win 512,
    // <nop, nop, TS val 1 ecr 2, nop, nop, sack 100:200>, "hello". Checked with scapy.
    static PSH6: [u8; 49] = [
        0xd4, 0x31, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0xb0, 0x18, 0x02,
        0x00, 0xc8, 0x33, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x02, 0x01, 0x01, 0x05, 0x0a, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0xc8, 0x68,
        0x65, 0x6c, 0x6c, 0x6f,
    ];

    fn syn_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 43210,
            dst_port: 80,
            flags: TcpFlags::SYN,
            seq_number: 0x01020304,
            ack_number: 0,
            window_len: 64240,
            urgent_at: 0,
            max_seg_size: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            sack_ranges: [None; 4],
            timestamp: Some(TcpTimestamp { tsval: 12345678, tsecr: 0 }),
            payload: &[],
        }
    }

    fn psh6_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 54321,
            dst_port: 443,
            flags: TcpFlags::PSH | TcpFlags::ACK,
            seq_number: 1,
            ack_number: 2,
            window_len: 512,
            urgent_at: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [Some((100, 200)), None, None, None],
            timestamp: Some(TcpTimestamp { tsval: 1, tsecr: 2 }),
            payload: b"hello",
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = Packet::new_checked(&SYN[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port()), (43210, 80));
        assert_eq!(p.seq_number(), 0x01020304);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.flags(), TcpFlags::SYN);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst() && !p.psh() && !p.urg());
        assert_eq!(p.window_len(), 64240);
        assert_eq!(p.checksum(), 0x7231);
        assert_eq!(p.urgent_at(), 0);
        assert_eq!(p.options().len(), 20);
        assert!(p.payload().is_empty());
        assert_eq!(p.segment_len(), 1);
        assert!(p.verify_checksum(SRC4, DST4));
        assert!(!p.verify_checksum(SRC4, DST6));
        let opts: Vec<_> = p.options_iter().map(|o| o.unwrap()).collect();
        assert_eq!(
            opts,
            [
                TcpOption::MaxSegmentSize(1460),
                TcpOption::SackPermitted,
                TcpOption::Timestamp { tsval: 12345678, tsecr: 0 },
                TcpOption::NoOperation,
                TcpOption::WindowScale(7),
            ]
        );
        assert_eq!(TcpRepr::parse(&p, SRC4, DST4, ChecksumMode::Verify).unwrap(), syn_repr());
        assert_eq!(p.flags().to_string(), "S");
    }

    #[test]
    fn test_deconstruct_v6() {
        let p = Packet::new_checked(&PSH6[..]).unwrap();
        assert!(p.verify_checksum(SRC6, DST6));
        assert_eq!(p.payload(), b"hello");
        assert_eq!(p.flags().to_string(), "P.");
        assert_eq!(TcpRepr::parse(&p, SRC6, DST6, ChecksumMode::Verify).unwrap(), psh6_repr());
    }

    #[test]
    fn test_construct() {
        let mut buf = [0xffu8; 40];
        syn_repr().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4).unwrap();
        assert_eq!(buf, SYN);
        let mut buf = [0xffu8; 49];
        let r = psh6_repr();
        assert_eq!(r.buffer_len(), 49);
        r.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC6, DST6).unwrap();
        assert_eq!(buf, PSH6);
    }

    #[test]
    fn test_emit_errors() {
        let mut buf = [0u8; 39];
        assert_eq!(syn_repr().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4), Err(Error::BufferTooSmall));
        let mut big = syn_repr();
        big.sack_ranges = [Some((1, 2)); 4];
        let mut buf = [0u8; 100];
        assert_eq!(big.emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST4), Err(Error::Malformed));
        let mut buf = [0u8; 40];
        assert_eq!(syn_repr().emit(&mut Packet::new_unchecked(&mut buf[..]), SRC4, DST6), Err(Error::Malformed));
    }

    #[test]
    fn test_truncated() {
        for len in 0..SYN.len() {
            assert_eq!(Packet::new_checked(&SYN[..len]), Err(Error::Truncated));
        }
        // A data offset below 5 is malformed.
        let mut buf = SYN;
        buf[12] = 0x40;
        assert_eq!(Packet::new_checked(&buf[..]), Err(Error::Malformed));
    }

    #[test]
    fn test_bad_checksum() {
        let mut buf = PSH6;
        buf[48] ^= 0x20; // "hellO"
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum(SRC6, DST6));
        assert_eq!(TcpRepr::parse(&p, SRC6, DST6, ChecksumMode::Verify), Err(Error::Checksum));
        assert!(TcpRepr::parse(&p, SRC6, DST6, ChecksumMode::Ignore).is_ok());
        // Right bytes, wrong addresses.
        let p = Packet::new_checked(&PSH6[..]).unwrap();
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3));
        assert!(!p.verify_checksum(SRC6, other));
    }

    #[test]
    fn test_options_parse() {
        // unknown option kind 30 (len 4) is skipped by length; EOL stops the walk.
        let opts = [30, 4, 0xaa, 0xbb, 1, 0, 0xff, 0xff];
        let v: Vec<_> = TcpOptions::new(&opts).collect();
        assert_eq!(
            v,
            [Ok(TcpOption::Unknown { kind: 30, data: &[0xaa, 0xbb] }), Ok(TcpOption::NoOperation), Ok(TcpOption::EndOfList)]
        );
        assert_eq!(TcpOption::parse(&[2, 4, 5]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2]), Err(Error::Truncated));
        assert_eq!(TcpOption::parse(&[2, 3, 5]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[30, 1]), Err(Error::Malformed));
        assert_eq!(TcpOption::parse(&[5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Err(Error::Malformed));
        // One error ends the iteration.
        assert_eq!(TcpOptions::new(&[30, 0, 1, 1]).count(), 1);
        // SACK with two blocks.
        let sack = [5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
        let (rest, o) = TcpOption::parse(&sack).unwrap();
        assert!(rest.is_empty());
        assert_eq!(o, TcpOption::SackRange([Some((1, 2)), Some((3, 4)), None, None]));
        let mut out = [0u8; 18];
        assert!(o.emit(&mut out).unwrap().is_empty());
        assert_eq!(out, sack);
        assert_eq!(TcpOption::Unknown { kind: 30, data: &[1, 2] }.emit(&mut [0u8; 3]), Err(Error::BufferTooSmall));
        assert_eq!(TcpOption::SackRange([None; 4]).emit(&mut [0u8; 8]), Err(Error::Malformed));
        assert_eq!(TcpOption::Unknown { kind: 1, data: &[] }.emit(&mut [0u8; 8]), Err(Error::Malformed));
    }

    #[test]
    fn test_clamp_mss_even() {
        let mut buf = SYN;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.clamp_mss(1500).unwrap(), None);
        assert_eq!(p.clamp_mss(1400).unwrap(), Some(1460));
        assert_eq!(&buf[20..24], &[0x02, 0x04, 0x05, 0x78]);
        let p = Packet::new_checked(&buf[..]).unwrap();
        assert!(p.verify_checksum(SRC4, DST4));
        let mut full = buf;
        Packet::new_unchecked(&mut full[..]).fill_checksum(SRC4, DST4).unwrap();
        assert_eq!(full, buf);
    }

    #[test]
    fn test_clamp_mss_odd() {
        // Options: NOP, MSS 9000, NOP, NOP, NOP -> the MSS value sits at odd offset 23.
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&SYN[..20]);
        buf[12] = 0x70;
        buf[20..28].copy_from_slice(&[1, 2, 4, 0x23, 0x28, 1, 1, 1]);
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.fill_checksum(SRC4, DST4).unwrap();
        assert_eq!(p.clamp_mss(1360).unwrap(), Some(9000));
        assert!(p.verify_checksum(SRC4, DST4));
        assert_eq!(p.options_iter().nth(1), Some(Ok(TcpOption::MaxSegmentSize(1360))));
        // No MSS option at all.
        let mut buf = PSH6;
        assert_eq!(Packet::new_checked(&mut buf[..]).unwrap().clamp_mss(100).unwrap(), None);
        // Malformed options before the MSS: error, unchanged.
        let mut buf = [0u8; 28];
        buf[..20].copy_from_slice(&SYN[..20]);
        buf[12] = 0x70;
        buf[20..28].copy_from_slice(&[30, 1, 2, 4, 0x23, 0x28, 1, 1]);
        let before = buf;
        assert_eq!(Packet::new_checked(&mut buf[..]).unwrap().clamp_mss(1360), Err(Error::Malformed));
        assert_eq!(buf, before);
    }

    #[test]
    fn test_nat_rewrites() {
        let mut buf = SYN;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        assert_eq!(p.rewrite_dst_port(8080), 80);
        assert_eq!(p.rewrite_src_port(1024), 43210);
        let new_dst = IpAddr::V4(Ipv4Addr::new(172, 16, 1, 2));
        p.update_checksum_addr(DST4, new_dst);
        assert!(p.verify_checksum(SRC4, new_dst));
        assert_eq!(p.rewrite_seq_number(0xffff_0000), 0x01020304);
        p.rewrite_ack_number(0x8000_0001);
        assert!(p.verify_checksum(SRC4, new_dst));
        let mut full = buf;
        Packet::new_unchecked(&mut full[..]).fill_checksum(SRC4, new_dst).unwrap();
        assert_eq!(full, buf);
    }

    #[test]
    fn test_setters() {
        let mut buf = PSH6;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.set_flags(TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(p.header_len(), 44);
        assert!(p.fin() && p.ack());
        assert_eq!(p.segment_len(), 6);
        p.set_window_len(1);
        p.set_urgent_at(2);
        p.set_header_len(60);
        assert_eq!(p.flags(), TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(p.options().len(), 29);
        assert!(p.payload().is_empty());
        assert_eq!(TcpFlags::NONE.to_string(), "none");
        assert!((TcpFlags::SYN | TcpFlags::ACK).intersects(TcpFlags::ACK));
    }

    fn repr_strategy() -> impl Strategy<Value = (TcpRepr<'static>, Vec<u8>)> {
        (
            (any::<u16>(), 1u16.., 0u16..0x200, any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()),
            (
                proptest::option::of(any::<u16>()),
                proptest::option::of(any::<u8>()),
                any::<bool>(),
                proptest::collection::vec(any::<(u32, u32)>(), 0..=3),
                proptest::option::of(any::<(u32, u32)>()),
            ),
            proptest::collection::vec(any::<u8>(), 0..32),
        )
            .prop_map(|((sp, dp, fl, seq, ack, win, urg), (mss, ws, sp_ok, sacks, ts), payload)| {
                let mut sack_ranges = [None; 4];
                for (slot, s) in sack_ranges.iter_mut().zip(sacks) {
                    *slot = Some(s);
                }
                let r = TcpRepr {
                    src_port: sp,
                    dst_port: dp,
                    flags: TcpFlags(fl),
                    seq_number: seq,
                    ack_number: ack,
                    window_len: win,
                    urgent_at: urg,
                    max_seg_size: mss,
                    window_scale: ws,
                    sack_permitted: sp_ok,
                    sack_ranges,
                    timestamp: ts.map(|(tsval, tsecr)| TcpTimestamp { tsval, tsecr }),
                    payload: &[],
                };
                (r, payload)
            })
    }

    proptest! {
        #[test]
        fn roundtrip((r, payload) in repr_strategy(), v6 in any::<bool>()) {
            let r = TcpRepr { payload: &payload, ..r };
            prop_assume!(r.header_len() <= MAX_HEADER_LEN);
            let (s, d) = if v6 { (SRC6, DST6) } else { (SRC4, DST4) };
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]), s, d).unwrap();
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(TcpRepr::parse(&p, s, d, ChecksumMode::Verify).unwrap(), r);
        }

        #[test]
        fn clamp_mss_matches_recompute(mss in any::<u16>(), max in any::<u16>(), pad in 0usize..4, seq in any::<u32>()) {
            // NOPs before the MSS put it at every alignment.
            let olen = (pad + 4).div_ceil(4) * 4;
            let mut buf = vec![0u8; HEADER_LEN + olen];
            buf[..20].copy_from_slice(&SYN[..20]);
            buf[12] = (((HEADER_LEN + olen) / 4) << 4) as u8;
            buf[4..8].copy_from_slice(&seq.to_be_bytes());
            for b in &mut buf[20..] { *b = 1; }
            buf[20 + pad] = 2;
            buf[21 + pad] = 4;
            buf[22 + pad..24 + pad].copy_from_slice(&mss.to_be_bytes());
            let mut p = Packet::new_checked(&mut buf[..]).unwrap();
            p.fill_checksum(SRC4, DST4).unwrap();
            let r = p.clamp_mss(max).unwrap();
            prop_assert_eq!(r, if mss > max { Some(mss) } else { None });
            let after = p.checksum();
            p.fill_checksum(SRC4, DST4).unwrap();
            prop_assert_eq!(after, p.checksum());
        }

        #[test]
        fn nat_rewrite_matches_recompute(src in any::<u32>(), dst in any::<[u8; 16]>(), port in any::<u16>()) {
            let mut buf = PSH6;
            let mut p = Packet::new_checked(&mut buf[..]).unwrap();
            let new_src = IpAddr::V6(Ipv6Addr::from(dst));
            p.update_checksum_addr(SRC6, new_src);
            p.rewrite_dst_port(port);
            p.rewrite_seq_number(src);
            let inc = p.checksum();
            p.fill_checksum(new_src, DST6).unwrap();
            prop_assert_eq!(inc, p.checksum());
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            for o in TcpOptions::new(&data).flatten() {
                let mut out = [0u8; 300];
                let _ = o.emit(&mut out);
            }
            if let Ok(p) = Packet::new_checked(&data[..]) {
                let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number(), p.flags());
                let _ = (p.window_len(), p.urgent_at(), p.options(), p.payload(), p.segment_len());
                let _ = p.options_iter().count();
                let _ = p.verify_checksum(SRC4, DST4);
                let _ = TcpRepr::parse(&p, SRC4, DST4, ChecksumMode::Ignore);
            }
            let mut d = data.clone();
            if let Ok(mut p) = Packet::new_checked(&mut d[..]) {
                let _ = p.clamp_mss(536);
            }
        }
    }
}
