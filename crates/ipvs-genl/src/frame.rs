//! Netlink and generic-netlink framing, as `netlink_rcv_skb()` walks a
//! datagram and as `netlink_ack()` / `netlink_dump_done()` answer.

use netlink_packet_core::{
    DoneMessage, ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NLM_F_CAPPED,
    NLM_F_MULTIPART,
};

use crate::attr::{emit_attrs, Attr};
use crate::Errno;

/// `NLMSG_HDRLEN`.
pub const NLMSG_HDRLEN: usize = 16;
/// `GENL_HDRLEN`.
pub const GENL_HDRLEN: usize = 4;
/// Message types below this are netlink control messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_ROOT | NLM_F_MATCH`.
pub const NLM_F_DUMP: u16 = 0x300;

/// One netlink message inside a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// All `nlmsg_len` bytes, header included.
    pub bytes: &'a [u8],
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl<'a> NlMsg<'a> {
    /// The payload after the 16-byte header.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[NLMSG_HDRLEN..]
    }

    /// True when NLM_F_DUMP is fully set, as the kernel tests it.
    pub fn is_dump(&self) -> bool {
        self.flags & NLM_F_DUMP == NLM_F_DUMP
    }

    /// The generic-netlink header and attributes (`-EINVAL` when shorter than
    /// the genl header, as `genl_family_rcv_msg` answers).
    pub fn genl(&self) -> Result<Genl<'a>, Errno> {
        let p = self.payload();
        if p.len() < GENL_HDRLEN {
            return Err(Errno::EINVAL);
        }
        Ok(Genl { cmd: p[0], version: p[1], reserved: u16::from_ne_bytes([p[2], p[3]]), attrs: &p[GENL_HDRLEN..] })
    }
}

/// A generic-netlink message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Genl<'a> {
    pub cmd: u8,
    pub version: u8,
    pub reserved: u16,
    pub attrs: &'a [u8],
}

/// Walks the messages of a datagram the way `netlink_rcv_skb` does: stop at a
/// header whose length is short or runs past the datagram; advance by the
/// aligned length.
pub fn messages(datagram: &[u8]) -> Messages<'_> {
    Messages { rest: datagram }
}

/// Iterator returned by [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Messages<'a> {
    type Item = NlMsg<'a>;

    fn next(&mut self) -> Option<NlMsg<'a>> {
        let b = self.rest;
        if b.len() < NLMSG_HDRLEN {
            return None;
        }
        let u32_at = |o: usize| u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
        let u16_at = |o: usize| u16::from_ne_bytes([b[o], b[o + 1]]);
        let len = u32_at(0);
        let ulen = len as usize;
        if ulen < NLMSG_HDRLEN || ulen > b.len() {
            self.rest = &[];
            return None;
        }
        let msg = NlMsg { bytes: &b[..ulen], len, kind: u16_at(4), flags: u16_at(6), seq: u32_at(8), pid: u32_at(12) };
        let advance = ((ulen + 3) & !3).min(b.len());
        self.rest = &b[advance..];
        Some(msg)
    }
}

/// A generic-netlink message body to emit through netlink-packet-core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenlBody {
    /// The nlmsg_type: the family id.
    pub family: u16,
    pub cmd: u8,
    pub version: u8,
    /// The attributes, already encoded (see [`Attr::write`]).
    pub attrs: Vec<u8>,
}

impl NetlinkSerializable for GenlBody {
    fn message_type(&self) -> u16 {
        self.family
    }

    fn buffer_len(&self) -> usize {
        GENL_HDRLEN + self.attrs.len()
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer[0] = self.cmd;
        buffer[1] = self.version;
        buffer[2] = 0;
        buffer[3] = 0;
        buffer[GENL_HDRLEN..].copy_from_slice(&self.attrs);
    }
}

fn finish<I: NetlinkSerializable>(flags: u16, seq: u32, pid: u32, payload: NetlinkPayload<I>) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    header.port_number = pid;
    let mut msg = NetlinkMessage::new(header, payload);
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// A generic-netlink message (a reply, a dump entry, or a request).
pub fn genl_message(family: u16, flags: u16, seq: u32, pid: u32, cmd: u8, version: u8, attrs: Vec<Attr>) -> Vec<u8> {
    let attrs = emit_attrs(&attrs);
    finish(flags, seq, pid, NetlinkPayload::InnerMessage(GenlBody { family, cmd, version, attrs }))
}

/// The ACK of a request: NLMSG_ERROR, error 0, the request's header only,
/// NLM_F_CAPPED (36 bytes), as `netlink_ack()` sends it.
pub fn ack(req: &NlMsg<'_>) -> Vec<u8> {
    let mut e = ErrorMessage::default();
    e.header = req.bytes[..NLMSG_HDRLEN].to_vec();
    finish::<GenlBody>(NLM_F_CAPPED, req.seq, req.pid, NetlinkPayload::Error(e))
}

/// An error answer: NLMSG_ERROR with -errno followed by the whole request.
pub fn error(req: &NlMsg<'_>, errno: Errno) -> Vec<u8> {
    let mut e = ErrorMessage::default();
    e.code = std::num::NonZeroI32::new(-errno.0);
    e.header = req.bytes.to_vec();
    finish::<GenlBody>(0, req.seq, req.pid, NetlinkPayload::Error(e))
}

/// The end of a dump: NLMSG_DONE, NLM_F_MULTI, an int 0.
pub fn done(seq: u32, pid: u32) -> Vec<u8> {
    finish::<GenlBody>(NLM_F_MULTIPART, seq, pid, NetlinkPayload::Done(DoneMessage::default()))
}

/// Packs messages into datagrams of at most `max` bytes each (a message
/// larger than `max` gets a datagram of its own), as a dump fills skbs.
pub fn pack(messages: impl IntoIterator<Item = Vec<u8>>, max: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for m in messages {
        match out.last_mut() {
            Some(last) if last.len() + m.len() <= max => last.extend_from_slice(&m),
            _ => out.push(m),
        }
    }
    out
}

/// A decoded reply message (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A family message: (flags, cmd, attribute bytes).
    Genl { flags: u16, cmd: u8, attrs: &'a [u8] },
    /// NLMSG_ERROR with 0.
    Ack,
    /// NLMSG_ERROR with an errno.
    Error(Errno),
    Done,
    /// Anything else.
    Other(u16),
}

/// Decodes one reply message.
pub fn decode_reply<'a>(m: &NlMsg<'a>) -> Reply<'a> {
    match m.kind {
        NLMSG_ERROR => {
            let p = m.payload();
            if p.len() < 4 {
                return Reply::Other(NLMSG_ERROR);
            }
            let code = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            if code == 0 {
                Reply::Ack
            } else {
                Reply::Error(Errno(-code))
            }
        }
        NLMSG_DONE => Reply::Done,
        k if k >= NLMSG_MIN_TYPE => match m.genl() {
            Ok(g) => Reply::Genl { flags: m.flags, cmd: g.cmd, attrs: g.attrs },
            Err(_) => Reply::Other(k),
        },
        k => Reply::Other(k),
    }
}

/// A netlink message with a raw payload: `nlmsg_len` counts the payload, the
/// buffer is padded to 4 bytes.
pub fn raw_message(kind: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(NLMSG_HDRLEN + payload.len() + 3);
    v.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&pid.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((v.len() + 3) & !3, 0);
    v
}

/// dpvsd's request for the text of `/proc/net/<name>` ([`crate::consts::DPVS_PROC_READ`]).
pub fn proc_read_request(name: &str, seq: u32) -> Vec<u8> {
    let mut payload = name.as_bytes().to_vec();
    payload.push(0);
    raw_message(crate::consts::DPVS_PROC_READ, NLM_F_REQUEST, seq, 0, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = ((16 + payload.len()) as u32).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&flags.to_ne_bytes());
        v.extend_from_slice(&seq.to_ne_bytes());
        v.extend_from_slice(&pid.to_ne_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn ack_is_36_bytes_capped_with_the_request_header() {
        let req = request(0x2a, 0x5, 7, 1234, &[15, 1, 0, 0]);
        let m = messages(&req).next().unwrap();
        let a = ack(&m);
        let mut want = 36u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&0x100u16.to_ne_bytes());
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&1234u32.to_ne_bytes());
        want.extend_from_slice(&0i32.to_ne_bytes());
        want.extend_from_slice(&req[..16]);
        assert_eq!(a, want);
    }

    #[test]
    fn error_echoes_the_whole_request() {
        let req = request(0x2a, 0x5, 9, 55, &[3, 1, 0, 0, 4, 0, 1, 0]);
        let m = messages(&req).next().unwrap();
        let e = error(&m, Errno::ESRCH);
        assert_eq!(e.len(), 20 + req.len());
        assert_eq!(&e[4..8], &[2, 0, 0, 0]);
        assert_eq!(i32::from_ne_bytes(e[16..20].try_into().unwrap()), -3);
        assert_eq!(&e[20..], &req[..]);
    }

    #[test]
    fn done_is_multi_with_int_zero() {
        let d = done(5, 77);
        let mut want = 20u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&5u32.to_ne_bytes());
        want.extend_from_slice(&77u32.to_ne_bytes());
        want.extend_from_slice(&[0; 4]);
        assert_eq!(d, want);
    }

    #[test]
    fn walk_stops_at_bad_length_and_advances_aligned() {
        let mut dg = request(0x2a, 5, 1, 0, &[15, 1, 0, 0, 9]);
        dg.extend_from_slice(&[0, 0, 0]);
        dg.extend_from_slice(&request(0x2a, 5, 2, 0, &[15, 1, 0, 0]));
        dg.extend_from_slice(&[8, 0, 0, 0, 0, 0]);
        let seqs: Vec<u32> = messages(&dg).map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(messages(&[1, 2, 3]).count(), 0);
    }

    #[test]
    fn short_genl_payload_is_einval() {
        let req = request(0x2a, 5, 1, 0, &[15, 1]);
        assert_eq!(messages(&req).next().unwrap().genl(), Err(Errno::EINVAL));
    }

    #[test]
    fn proc_read_request_is_the_padded_name() {
        let r = proc_read_request("ip_vs_conn", 4);
        let mut want = 27u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&0x7ff0u16.to_ne_bytes());
        want.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        want.extend_from_slice(&4u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(b"ip_vs_conn\0\0");
        assert_eq!(r, want);
        assert_eq!(messages(&r).next().unwrap().payload(), b"ip_vs_conn\0");
    }

    #[test]
    fn pack_fills_datagrams_up_to_max() {
        let dgs = pack(vec![vec![0; 40], vec![0; 40], vec![0; 40], vec![0; 100]], 100);
        assert_eq!(dgs.iter().map(Vec::len).collect::<Vec<_>>(), [80, 40, 100]);
    }

    proptest::proptest! {
        #[test]
        fn walking_garbage_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            for m in messages(&bytes) {
                let _ = m.genl();
                let _ = decode_reply(&m);
            }
        }
    }
}
