//! Pure, allocation-light netlink logic: deciding whether a buffer is libnl's
//! "resolve the IPVS family" request, building the `DPVS_PROC_READ` request and
//! decoding dpvsd's reply to it, and the bytes of a `sockaddr_nl`.
//!
//! Nothing here touches a file descriptor; everything is unit-tested with
//! byte-exact fixtures.

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `GENL_ID_CTRL`: the nlctrl family.
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`.
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_NAME`.
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;
/// Private message type of the dpvsd wire contract: "send me this /proc file".
pub const DPVS_PROC_READ: u16 = 0x7ff0;
/// Mask removing `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// The generic-netlink family the shim hands to dpvsd.
pub const IPVS_FAMILY_NAME: &[u8] = b"IPVS";
/// `sizeof(struct sockaddr_nl)`.
pub const SOCKADDR_NL_LEN: usize = 12;

/// Rounds `len` up to the netlink alignment (4 bytes).
pub const fn nl_align(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([b[0], b[1]]))
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The fixed header of one netlink message (host byte order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlHeader {
    /// `nlmsg_len`: header plus payload, unpadded.
    pub len: u32,
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

impl NlHeader {
    /// Reads the header at the start of `buf`, if there are 16 bytes.
    pub fn parse(buf: &[u8]) -> Option<NlHeader> {
        Some(NlHeader {
            len: u32_at(buf, 0)?,
            ty: u16_at(buf, 4)?,
            flags: u16_at(buf, 6)?,
            seq: u32_at(buf, 8)?,
            pid: u32_at(buf, 12)?,
        })
    }

    /// The 16 header bytes.
    pub fn to_bytes(self) -> [u8; NLMSG_HDRLEN] {
        let mut out = [0u8; NLMSG_HDRLEN];
        out[0..4].copy_from_slice(&self.len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        out[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        out[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        out[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        out
    }
}

/// True when the first netlink message in `buf` is an nlctrl `CTRL_CMD_GETFAMILY`
/// request (not a dump) naming the family "IPVS".
///
/// `buf` may be a prefix of the datagram; the attribute must lie inside it.
pub fn is_getfamily_ipvs(buf: &[u8]) -> bool {
    let Some(hdr) = NlHeader::parse(buf) else {
        return false;
    };
    if hdr.ty != GENL_ID_CTRL || hdr.flags & NLM_F_DUMP == NLM_F_DUMP {
        return false;
    }
    let msg_len = hdr.len as usize;
    if msg_len < NLMSG_HDRLEN + GENL_HDRLEN {
        return false;
    }
    if buf.get(NLMSG_HDRLEN) != Some(&CTRL_CMD_GETFAMILY) {
        return false;
    }
    let end = msg_len.min(buf.len());
    let mut pos = NLMSG_HDRLEN + GENL_HDRLEN;
    while pos + 4 <= end {
        let (Some(nla_len), Some(nla_type)) = (u16_at(buf, pos), u16_at(buf, pos + 2)) else {
            return false;
        };
        let nla_len = nla_len as usize;
        if nla_len < 4 || pos + nla_len > end {
            return false;
        }
        if nla_type & NLA_TYPE_MASK == CTRL_ATTR_FAMILY_NAME {
            let payload = buf.get(pos + 4..pos + nla_len).unwrap_or(&[]);
            let name = match payload.iter().position(|&b| b == 0) {
                Some(nul) => payload.get(..nul).unwrap_or(&[]),
                None => payload,
            };
            return name == IPVS_FAMILY_NAME;
        }
        pos += nl_align(nla_len);
    }
    false
}

/// The 12 bytes of `struct sockaddr_nl { AF_NETLINK, 0, pid, groups 0 }`.
/// The sequence number of a netlink request.
pub fn request_seq(request: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(request.get(8..12)?.try_into().ok()?))
}

/// True when `datagram` holds the message that ends the answer to request
/// `seq`: its ACK or error (NLMSG_ERROR) or, for a dump, NLMSG_DONE.
pub fn ends_answer(datagram: &[u8], seq: u32) -> bool {
    let mut rest = datagram;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let mseq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if (kind == 2 || kind == 3) && mseq == seq {
            return true;
        }
        if len < 16 || len > rest.len() {
            return false;
        }
        rest = &rest[((len + 3) & !3).min(rest.len())..];
    }
    false
}

/// The NLMSG_ERROR a kernel sends for `request` refused with `errno`: the
/// request's seq and port id, -errno, then the whole request.
pub fn error_reply(request: &[u8], errno: i32) -> Vec<u8> {
    let mut header = [0u8; 16];
    let n = request.len().min(16);
    header[..n].copy_from_slice(&request[..n]);
    let echoed: &[u8] = if request.len() >= 16 { request } else { &header };
    let len = 16 + 4 + echoed.len();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&(len as u32).to_ne_bytes());
    v.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
    v.extend_from_slice(&0u16.to_ne_bytes());
    v.extend_from_slice(&header[8..16]); // seq, port id
    v.extend_from_slice(&(-errno).to_ne_bytes());
    v.extend_from_slice(echoed);
    v
}

pub fn sockaddr_nl_bytes(pid: u32) -> [u8; SOCKADDR_NL_LEN] {
    let mut out = [0u8; SOCKADDR_NL_LEN];
    // AF_NETLINK is 16 on every Linux architecture.
    out[0..2].copy_from_slice(&16u16.to_ne_bytes());
    out[4..8].copy_from_slice(&pid.to_ne_bytes());
    out
}

/// The IPVS files under `/proc/net` that dpvsd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    /// `/proc/net/ip_vs`: the service table.
    Services,
    /// `/proc/net/ip_vs_conn`: the connection table.
    Conns,
    /// `/proc/net/ip_vs_stats`: global counters.
    Stats,
}

impl ProcFile {
    /// The file's base name, as sent to dpvsd.
    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Services => "ip_vs",
            ProcFile::Conns => "ip_vs_conn",
            ProcFile::Stats => "ip_vs_stats",
        }
    }

    /// The base name NUL-terminated (for `memfd_create` and the request).
    pub fn c_name(self) -> &'static [u8] {
        match self {
            ProcFile::Services => b"ip_vs\0",
            ProcFile::Conns => b"ip_vs_conn\0",
            ProcFile::Stats => b"ip_vs_stats\0",
        }
    }

    /// Recognises exactly `/proc/net/<name>` and `/proc/self/net/<name>`.
    pub fn from_path(path: &[u8]) -> Option<ProcFile> {
        let base = path
            .strip_prefix(b"/proc/net/")
            .or_else(|| path.strip_prefix(b"/proc/self/net/"))?;
        match base {
            b"ip_vs" => Some(ProcFile::Services),
            b"ip_vs_conn" => Some(ProcFile::Conns),
            b"ip_vs_stats" => Some(ProcFile::Stats),
            _ => None,
        }
    }
}

/// Longest `DPVS_PROC_READ` request: header plus "ip_vs_stats\0" padded.
pub const PROC_REQUEST_MAX: usize = NLMSG_HDRLEN + 12;

/// Builds the `DPVS_PROC_READ` request for `file` into a fixed buffer; returns
/// the buffer and the number of bytes to send.
pub fn proc_read_request(file: ProcFile) -> ([u8; PROC_REQUEST_MAX], usize) {
    let name = file.c_name();
    let payload_len = nl_align(name.len());
    let len = NLMSG_HDRLEN + payload_len;
    let mut out = [0u8; PROC_REQUEST_MAX];
    let hdr = NlHeader {
        len: len as u32,
        ty: DPVS_PROC_READ,
        flags: NLM_F_REQUEST,
        seq: 1,
        pid: 0,
    };
    out[..NLMSG_HDRLEN].copy_from_slice(&hdr.to_bytes());
    out[NLMSG_HDRLEN..NLMSG_HDRLEN + name.len()].copy_from_slice(name);
    (out, len)
}

/// What a reply datagram to `DPVS_PROC_READ` told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcProgress {
    /// All chunks so far delivered; more datagrams follow.
    More,
    /// `NLMSG_DONE` seen: the file is complete.
    Done,
}

/// Why a `DPVS_PROC_READ` reply could not be used; carries the errno to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcError(pub i32);

/// Decodes one reply datagram, handing every file chunk to `sink` in order.
///
/// Chunks are `DPVS_PROC_READ` messages; the chunk is exactly `nlmsg_len - 16`
/// bytes (padding beyond `nlmsg_len` is not data). `NLMSG_DONE` ends the file;
/// `NLMSG_ERROR` with a negative code fails with that errno (a zero code, an
/// ACK, also ends the file). Anything malformed or unexpected is `EIO`.
/// `sink` returning an errno aborts with it.
pub fn decode_proc_reply(
    dgram: &[u8],
    mut sink: impl FnMut(&[u8]) -> Result<(), i32>,
) -> Result<ProcProgress, ProcError> {
    let mut pos = 0usize;
    if dgram.is_empty() {
        return Err(ProcError(libc::EIO));
    }
    while pos < dgram.len() {
        let rest = dgram.get(pos..).unwrap_or(&[]);
        let hdr = NlHeader::parse(rest).ok_or(ProcError(libc::EIO))?;
        let len = hdr.len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(ProcError(libc::EIO));
        }
        let payload = rest.get(NLMSG_HDRLEN..len).unwrap_or(&[]);
        match hdr.ty {
            DPVS_PROC_READ => sink(payload).map_err(ProcError)?,
            NLMSG_DONE => return Ok(ProcProgress::Done),
            NLMSG_ERROR => {
                let code = payload
                    .get(..4)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or(ProcError(libc::EIO))?;
                return match code {
                    0 => Ok(ProcProgress::Done),
                    c if c < 0 => Err(ProcError(c.checked_neg().unwrap_or(libc::EIO))),
                    _ => Err(ProcError(libc::EIO)),
                };
            }
            _ => return Err(ProcError(libc::EIO)),
        }
        pos += nl_align(len);
    }
    Ok(ProcProgress::More)
}

/// For an `fopen` mode: `Some(cloexec)` when it opens read-only ("r", "rb",
/// "re", ...), `None` for any writing mode.
pub fn fopen_mode_read_only(mode: &[u8]) -> Option<bool> {
    let (&first, rest) = mode.split_first()?;
    if first != b'r' {
        return None;
    }
    // glibc stops at ',' (ccs=...).
    let flags = rest.split(|&b| b == b',').next().unwrap_or(&[]);
    if flags.contains(&b'+') {
        return None;
    }
    Some(flags.contains(&b'e'))
}

/// True when `open` flags ask for a plain read-only open of an existing file.
pub fn open_flags_read_only(flags: i32) -> bool {
    flags & libc::O_ACCMODE == libc::O_RDONLY
        && flags & (libc::O_CREAT | libc::O_PATH | libc::O_TMPFILE | libc::O_TRUNC) == 0
}

#[cfg(test)]
mod error_reply_tests {
    use super::*;

    #[test]
    fn proc_read_matches_the_shared_wire_contract() {
        // The shim depends on nothing but libc, so it keeps its own copy.
        assert_eq!(DPVS_PROC_READ, ipvs_genl::consts::DPVS_PROC_READ);
        let (buf, len) = proc_read_request(ProcFile::Conns);
        let ours: Vec<_> = ipvs_genl::frame::messages(&buf[..len]).collect();
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].kind, DPVS_PROC_READ);
        let name = ours[0].payload();
        assert_eq!(&name[..name.iter().position(|&b| b == 0).unwrap()], b"ip_vs_conn");
    }

    #[test]
    fn answers_end_at_their_ack_error_or_done() {
        let req = [16, 0, 0, 0, 0x2a, 0, 5, 0, 9, 0, 0, 0, 0, 0, 0, 0];
        let ack = error_reply(&req[..16], 0);
        assert!(ends_answer(&ack, 9));
        assert!(!ends_answer(&ack, 8));
        let mut done = 20u32.to_ne_bytes().to_vec();
        done.extend_from_slice(&[3, 0, 2, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut entry = 20u32.to_ne_bytes().to_vec();
        entry.extend_from_slice(&[0x2a, 0, 2, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]);
        assert!(!ends_answer(&entry, 9));
        entry.extend_from_slice(&done);
        assert!(ends_answer(&entry, 9));
        assert!(!ends_answer(&[1, 2, 3], 9));
        assert_eq!(request_seq(&req), Some(9));
    }

    #[test]
    fn error_reply_echoes_the_request_with_its_seq() {
        let mut req = 20u32.to_ne_bytes().to_vec();
        req.extend_from_slice(&0x2au16.to_ne_bytes());
        req.extend_from_slice(&5u16.to_ne_bytes());
        req.extend_from_slice(&77u32.to_ne_bytes());
        req.extend_from_slice(&1234u32.to_ne_bytes());
        req.extend_from_slice(&[7, 1, 0, 0]);
        let r = error_reply(&req, libc::ECONNREFUSED);
        assert_eq!(r.len(), 40);
        assert_eq!(&r[0..4], &40u32.to_ne_bytes());
        assert_eq!(&r[4..8], &[2, 0, 0, 0]);
        assert_eq!(&r[8..16], &req[8..16]);
        assert_eq!(&r[16..20], &(-libc::ECONNREFUSED).to_ne_bytes());
        assert_eq!(&r[20..], &req[..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GETFAMILY "IPVS" exactly as libnl 3.7's genl_ctrl_resolve() sends it
    /// (captured with strace from ipvsadm 1.31; seq and pid from that run).
    const LIBNL_GETFAMILY_IPVS: [u8; 32] = [
        0x20, 0x00, 0x00, 0x00, // nlmsg_len 32
        0x10, 0x00, // nlmsg_type GENL_ID_CTRL
        0x05, 0x00, // NLM_F_REQUEST | NLM_F_ACK
        0xff, 0xb2, 0x00, 0x6b, // seq
        0x37, 0x33, 0x80, 0xe1, // pid
        0x03, 0x01, 0x00, 0x00, // cmd GETFAMILY, version 1, reserved
        0x09, 0x00, 0x02, 0x00, // nla_len 9, CTRL_ATTR_FAMILY_NAME
        b'I', b'P', b'V', b'S', 0x00, 0x00, 0x00, 0x00, // "IPVS\0" + pad
    ];

    #[test]
    fn libnl_getfamily_ipvs_is_recognised() {
        assert!(is_getfamily_ipvs(&LIBNL_GETFAMILY_IPVS));
        let hdr = NlHeader::parse(&LIBNL_GETFAMILY_IPVS).unwrap();
        assert_eq!(hdr.len, 32);
        assert_eq!(hdr.ty, GENL_ID_CTRL);
        assert_eq!(hdr.flags, 5);
        assert_eq!(hdr.to_bytes(), LIBNL_GETFAMILY_IPVS[..16]);
    }

    #[test]
    fn other_families_and_commands_are_not() {
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[24..28].copy_from_slice(b"IPVX");
        assert!(!is_getfamily_ipvs(&m));

        // "IPVS2" (longer name sharing the prefix)
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[20] = 10;
        m[28] = b'2';
        assert!(!is_getfamily_ipvs(&m));

        // CTRL_CMD_GETOPS-like other command
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[16] = 1;
        assert!(!is_getfamily_ipvs(&m));

        // not nlctrl
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[4] = 0x2a;
        assert!(!is_getfamily_ipvs(&m));

        // a dump (what `genl ctrl list` sends) goes to the kernel
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[6..8].copy_from_slice(&0x305u16.to_ne_bytes());
        assert!(!is_getfamily_ipvs(&m));
    }

    #[test]
    fn name_without_nul_and_nested_flag_bits() {
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[20] = 8; // nla_len 8: "IPVS" with no terminator
        assert!(is_getfamily_ipvs(&m));
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[23] |= 0x80; // NLA_F_NESTED set on the type
        assert!(is_getfamily_ipvs(&m));
    }

    #[test]
    fn family_name_after_another_attribute() {
        let mut m = Vec::new();
        m.extend_from_slice(&40u32.to_ne_bytes());
        m.extend_from_slice(&0x10u16.to_ne_bytes());
        m.extend_from_slice(&5u16.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&[3, 1, 0, 0]);
        // CTRL_ATTR_FAMILY_ID u16, padded to 8
        m.extend_from_slice(&[6, 0, 1, 0, 0, 0, 0, 0]);
        m.extend_from_slice(&[9, 0, 2, 0]);
        m.extend_from_slice(b"IPVS\0\0\0\0");
        assert_eq!(m.len(), 40);
        assert!(is_getfamily_ipvs(&m));
    }

    #[test]
    fn truncated_or_garbage_buffers_are_not() {
        for n in 0..LIBNL_GETFAMILY_IPVS.len() - 4 {
            assert!(!is_getfamily_ipvs(&LIBNL_GETFAMILY_IPVS[..n]), "prefix {n}");
        }
        // the attribute claims more than nlmsg_len
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[0] = 26;
        assert!(!is_getfamily_ipvs(&m));
        // zero-length attribute must not loop
        let mut m = LIBNL_GETFAMILY_IPVS;
        m[20] = 0;
        assert!(!is_getfamily_ipvs(&m));
        assert!(!is_getfamily_ipvs(&[0xff; 64]));
    }

    #[test]
    fn sockaddr_nl_layout() {
        let b = sockaddr_nl_bytes(0x1234_5678);
        assert_eq!(b.len(), std::mem::size_of::<libc::sockaddr_nl>());
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), libc::AF_NETLINK as u16);
        assert_eq!(&b[2..4], &[0, 0]);
        assert_eq!(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]), 0x1234_5678);
        assert_eq!(&b[8..12], &[0, 0, 0, 0]);
    }

    #[test]
    fn proc_paths() {
        assert_eq!(
            ProcFile::from_path(b"/proc/net/ip_vs_conn"),
            Some(ProcFile::Conns)
        );
        assert_eq!(
            ProcFile::from_path(b"/proc/net/ip_vs"),
            Some(ProcFile::Services)
        );
        assert_eq!(
            ProcFile::from_path(b"/proc/net/ip_vs_stats"),
            Some(ProcFile::Stats)
        );
        assert_eq!(
            ProcFile::from_path(b"/proc/self/net/ip_vs_conn"),
            Some(ProcFile::Conns)
        );
        assert_eq!(
            ProcFile::from_path(b"/proc/self/net/ip_vs"),
            Some(ProcFile::Services)
        );
        for p in [
            &b"/proc/net/ip_vs_conn_sync"[..],
            b"/proc/net/ip_vs_stats_percpu",
            b"proc/net/ip_vs",
            b"/proc/net/ip_vs/",
            b"/proc/net/tcp",
            b"/proc/1/net/ip_vs",
            b"",
        ] {
            assert_eq!(
                ProcFile::from_path(p),
                None,
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        for f in [ProcFile::Services, ProcFile::Conns, ProcFile::Stats] {
            assert_eq!(&f.c_name()[..f.c_name().len() - 1], f.name().as_bytes());
        }
    }

    #[test]
    fn proc_request_bytes() {
        let (buf, len) = proc_read_request(ProcFile::Conns);
        let expect: [u8; 28] = [
            28, 0, 0, 0, 0xf0, 0x7f, 0x01, 0x00, 1, 0, 0, 0, 0, 0, 0, 0, //
            b'i', b'p', b'_', b'v', b's', b'_', b'c', b'o', b'n', b'n', 0, 0,
        ];
        assert_eq!(&buf[..len], &expect);

        let (buf, len) = proc_read_request(ProcFile::Services);
        assert_eq!(len, 24);
        assert_eq!(&buf[16..24], b"ip_vs\0\0\0");

        let (buf, len) = proc_read_request(ProcFile::Stats);
        assert_eq!(len, 28);
        assert_eq!(&buf[16..28], b"ip_vs_stats\0");
    }

    fn msg(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = NlHeader {
            len: (NLMSG_HDRLEN + payload.len()) as u32,
            ty,
            flags,
            seq: 1,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        m.extend_from_slice(payload);
        while m.len() & 3 != 0 {
            m.push(0xee); // padding must never show up in the file
        }
        m
    }

    fn collect(dgram: &[u8], out: &mut Vec<u8>) -> Result<ProcProgress, ProcError> {
        decode_proc_reply(dgram, |c| {
            out.extend_from_slice(c);
            Ok(())
        })
    }

    #[test]
    fn proc_reply_chunks_use_exact_lengths() {
        let mut out = Vec::new();
        let mut d = msg(DPVS_PROC_READ, NLM_F_MULTI, b"Pro FromIP\n");
        d.extend(msg(DPVS_PROC_READ, NLM_F_MULTI, b"TCP"));
        assert_eq!(collect(&d, &mut out), Ok(ProcProgress::More));
        let mut d = msg(DPVS_PROC_READ, NLM_F_MULTI, b" 0A\n");
        d.extend(msg(NLMSG_DONE, NLM_F_MULTI, &[0, 0, 0, 0]));
        assert_eq!(collect(&d, &mut out), Ok(ProcProgress::Done));
        assert_eq!(out, b"Pro FromIP\nTCP 0A\n");
    }

    #[test]
    fn proc_reply_empty_file_and_errors() {
        let mut out = Vec::new();
        let done = msg(NLMSG_DONE, NLM_F_MULTI, &[0, 0, 0, 0]);
        assert_eq!(collect(&done, &mut out), Ok(ProcProgress::Done));
        assert!(out.is_empty());

        let mut err = (-libc::EPERM).to_ne_bytes().to_vec();
        err.extend_from_slice(&proc_read_request(ProcFile::Conns).0[..16]);
        let e = msg(NLMSG_ERROR, 0, &err);
        assert_eq!(collect(&e, &mut out), Err(ProcError(libc::EPERM)));

        assert_eq!(collect(&[], &mut out), Err(ProcError(libc::EIO)));
        assert_eq!(collect(&done[..10], &mut out), Err(ProcError(libc::EIO)));
        let mut bad = done.clone();
        bad[0] = 200; // longer than the datagram
        assert_eq!(collect(&bad, &mut out), Err(ProcError(libc::EIO)));
        let other = msg(0x2a, 0, &[1, 2, 3, 4]);
        assert_eq!(collect(&other, &mut out), Err(ProcError(libc::EIO)));

        let sink_fail = decode_proc_reply(&msg(DPVS_PROC_READ, 2, b"x"), |_| Err(libc::ENOSPC));
        assert_eq!(sink_fail, Err(ProcError(libc::ENOSPC)));
    }

    #[test]
    fn fopen_modes() {
        assert_eq!(fopen_mode_read_only(b"r"), Some(false));
        assert_eq!(fopen_mode_read_only(b"rb"), Some(false));
        assert_eq!(fopen_mode_read_only(b"re"), Some(true));
        assert_eq!(fopen_mode_read_only(b"rce"), Some(true));
        assert_eq!(fopen_mode_read_only(b"r,ccs=UTF-8"), Some(false));
        assert_eq!(fopen_mode_read_only(b"r+"), None);
        assert_eq!(fopen_mode_read_only(b"w"), None);
        assert_eq!(fopen_mode_read_only(b"a"), None);
        assert_eq!(fopen_mode_read_only(b""), None);
    }

    #[test]
    fn open_flags() {
        assert!(open_flags_read_only(libc::O_RDONLY));
        assert!(open_flags_read_only(
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY
        ));
        assert!(!open_flags_read_only(libc::O_WRONLY));
        assert!(!open_flags_read_only(libc::O_RDWR));
        assert!(!open_flags_read_only(libc::O_RDONLY | libc::O_CREAT));
        assert!(!open_flags_read_only(libc::O_PATH));
    }
}
