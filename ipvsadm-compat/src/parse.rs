//! The C library's number and address parsers as ipvsadm uses them (`strtol`, `atoi`,
//! `inet_aton`, `inet_pton`), and ipvsadm's own `parse_service`, `parse_netmask`,
//! `parse_fwmark` and `string_to_number` built on them. Quirks are kept on purpose: they
//! decide which command lines ipvsadm accepts.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipvs_genl::consts::{AF_INET, AF_INET6};

/// Name services ipvsadm consults: `gethostbyname`, `gethostbyaddr`, `getservbyname`,
/// `getservbyport` (a trait so that parsing can be tested without /etc/hosts).
pub trait Names {
    /// The first IPv4 address of `name`, when it resolves to IPv4.
    fn host_v4(&self, name: &str) -> Option<[u8; 4]>;
    /// The name of an address (af, 4 or 16 bytes).
    fn host_name(&self, af: u16, addr: &[u8]) -> Option<String>;
    /// The port (host order) of service `name` for protocol "tcp", "udp" or "sctp".
    fn serv_port(&self, name: &str, proto: &str) -> Option<u16>;
    /// The name of `port` for protocol "tcp", "udp" or "sctp".
    fn serv_name(&self, port: u16, proto: &str) -> Option<String>;
}

/// A [`Names`] that knows nothing (every lookup fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNames;

impl Names for NoNames {
    fn host_v4(&self, _: &str) -> Option<[u8; 4]> {
        None
    }
    fn host_name(&self, _: u16, _: &[u8]) -> Option<String> {
        None
    }
    fn serv_port(&self, _: &str, _: &str) -> Option<u16> {
        None
    }
    fn serv_name(&self, _: u16, _: &str) -> Option<String> {
        None
    }
}

fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `strtol(s, &end, 10)`: (value saturated as a 64-bit long, overflowed, bytes consumed);
/// consumed is 0 when no digits were found.
pub fn strtol(s: &str) -> (i64, bool, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    let mut overflow = false;
    while i < b.len() && b[i].is_ascii_digit() {
        if !overflow {
            v = v * 10 + i128::from(b[i] - b'0');
            if v > i128::from(i64::MAX) + 1 {
                overflow = true;
            }
        }
        i += 1;
    }
    if i == start {
        return (0, false, 0);
    }
    let v = if neg { -v } else { v };
    if overflow || v > i128::from(i64::MAX) || v < i128::from(i64::MIN) {
        (if neg { i64::MIN } else { i64::MAX }, true, i)
    } else {
        (v as i64, false, i)
    }
}

/// ipvsadm's `string_to_number`: the whole string a decimal long within [min, max].
pub fn string_to_number(s: &str, min: i64, max: i64) -> Option<i64> {
    let (v, overflow, used) = strtol(s);
    (used > 0 && used == s.len() && !overflow && min <= v && v <= max).then_some(v)
}

/// `atoi`: `(int) strtol(s, NULL, 10)`, 0 without digits.
pub fn atoi(s: &str) -> i32 {
    strtol(s).0 as i32
}

/// ipvsadm's `parse_fwmark`: a decimal in 1..=UINT_MAX (as `strtol` reads it).
pub fn parse_fwmark(s: &str) -> Option<u32> {
    let (v, overflow, used) = strtol(s);
    let l = v as u64;
    if used == 0 || used != s.len() || overflow || l == 0 || l > u64::from(u32::MAX) {
        return None;
    }
    Some(l as u32)
}

/// `strtoul(s, &end, 0)` for `inet_aton`: a number in base 16 (`0x`), 8 (`0`) or 10.
fn strtoul0(b: &[u8]) -> (u64, usize) {
    let (base, mut i) = if b.len() >= 3 && b[0] == b'0' && (b[1] | 0x20) == b'x' && b[2].is_ascii_hexdigit() {
        (16, 2)
    } else if b.first() == Some(&b'0') {
        (8, 0)
    } else {
        (10, 0)
    };
    let mut v: u64 = 0;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else { break };
        v = v.saturating_mul(u64::from(base)).saturating_add(u64::from(d));
        i += 1;
    }
    (v, i)
}

/// glibc's `inet_aton`: 1 to 4 parts (`a`, `a.b`, `a.b.c`, `a.b.c.d`), each decimal, octal or
/// hex; anything after a whitespace is ignored.
pub fn inet_aton(s: &str) -> Option<[u8; 4]> {
    let b = s.as_bytes();
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    let mut i = 0;
    let val;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, used) = strtoul0(&b[i..]);
        if v > u64::from(u32::MAX) {
            return None;
        }
        i += used;
        if b.get(i) == Some(&b'.') {
            if parts.len() > 2 || v > 0xff {
                return None;
            }
            parts.push(v);
            i += 1;
        } else {
            val = v;
            break;
        }
    }
    if let Some(&c) = b.get(i) {
        if !is_c_space(c) {
            return None;
        }
    }
    let max = match parts.len() {
        0 => u64::from(u32::MAX),
        1 => 0xff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if val > max {
        return None;
    }
    let mut out = val as u32;
    for (k, p) in parts.iter().enumerate() {
        out |= (*p as u32) << (24 - 8 * k);
    }
    Some(out.to_be_bytes())
}

/// `inet_pton(AF_INET6, ...)`.
pub fn inet_pton6(s: &str) -> Option<[u8; 16]> {
    s.parse::<Ipv6Addr>().ok().map(|a| a.octets())
}

/// `inet_pton(AF_INET, ...)`: strict dotted quad.
pub fn inet_pton4(s: &str) -> Option<[u8; 4]> {
    s.parse::<Ipv4Addr>().ok().map(|a| a.octets())
}

/// glibc's `inet_ntop(AF_INET6, ...)`: RFC 5952 compression, and the IPv4-compatible
/// (`::a.b.c.d`) and IPv4-mapped (`::ffff:a.b.c.d`) forms.
pub fn ntop6(a: &[u8; 16]) -> String {
    let w: Vec<u16> = (0..8).map(|i| u16::from_be_bytes([a[2 * i], a[2 * i + 1]])).collect();
    // The longest run of zero words (first one on a tie), if at least 2 long.
    let (mut best, mut best_len) = (usize::MAX, 0);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = usize::MAX;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.push(':');
            i += best_len;
            if i == 8 {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            out.push_str(&format!("{}.{}.{}.{}", a[12], a[13], a[14], a[15]));
            break;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    out
}

/// `inet_ntop` for either family (IPv4: the first 4 bytes).
pub fn ntop(af: u16, a: &[u8; 16]) -> String {
    if af == AF_INET6 {
        ntop6(a)
    } else {
        format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
    }
}

/// Protocol name for getservby*: "tcp", "udp", "sctp".
pub fn serv_proto(protocol: u16) -> Option<&'static str> {
    match protocol {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        _ => None,
    }
}

/// What `parse_service` set: `SERVICE_ADDR` and `SERVICE_PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parsed {
    pub addr: bool,
    pub port: bool,
}

/// The parts of an `ipvs_service_t` that `parse_service` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub af: u16,
    pub addr: [u8; 16],
    /// Host order.
    pub port: u16,
    pub netmask: u32,
}

/// ipvsadm's `parse_service(buf, svc)`: `host[:port]`, `[v6]:port` or a bare IPv6 address.
/// Fields of `ep` are updated as the C function updates them, also when it then fails.
pub fn parse_service(buf: &str, protocol: u16, ep: &mut Endpoint, names: &dyn Names) -> Parsed {
    if buf.bytes().all(|b| b.is_ascii_digit()) {
        return Parsed::default();
    }
    let (host, mut port): (&str, Option<&str>) = if let Some(inner) = buf.strip_prefix('[') {
        let Some(close) = inner.find(']') else { return Parsed::default() };
        let after = &inner[close + 1..];
        let Some(p) = after.strip_prefix(':') else { return Parsed::default() };
        (&inner[..close], Some(p))
    } else {
        (buf, None)
    };
    if let Some(a6) = inet_pton6(host) {
        ep.addr = a6;
        ep.af = AF_INET6;
        ep.netmask = 128;
    } else {
        let mut host = host;
        // strrchr(buf, ':') within what is left of the buffer (the bracket form loses its
        // port here when the inside has no colon).
        port = None;
        if let Some(c) = host.rfind(':') {
            port = Some(&host[c + 1..]);
            host = &host[..c];
        }
        let a4 = inet_aton(host).or_else(|| names.host_v4(host));
        let Some(a4) = a4 else { return Parsed::default() };
        // Only the IPv4 word is written (`svc->addr.ip = ...`); the rest stays as it was.
        ep.addr[..4].copy_from_slice(&a4);
        ep.af = AF_INET;
    }
    let mut r = Parsed { addr: true, port: false };
    if let Some(p) = port {
        r.port = true;
        if let Some(n) = string_to_number(p, 0, 65535) {
            ep.port = n as u16;
        } else if let Some(n) = serv_proto(protocol).and_then(|proto| names.serv_port(p, proto)) {
            ep.port = n;
        } else {
            return Parsed::default();
        }
    }
    r
}

/// ipvsadm's `parse_netmask`: an IPv4 mask by `inet_aton` or a host name; the value as the
/// C `u_int32_t` holds it (network-order bytes in memory).
pub fn parse_netmask(buf: &str, names: &dyn Names) -> Option<u32> {
    inet_aton(buf).or_else(|| names.host_v4(buf)).map(u32::from_ne_bytes)
}

/// `addrport_to_anyname`: "addr:port" or "[addr]:port", names unless numeric; at most 59
/// bytes (a 60-byte snprintf buffer).
pub fn addrport_to_anyname(
    af: u16,
    addr: &[u8; 16],
    port: u16,
    protocol: u16,
    numeric: bool,
    names: &dyn Names,
) -> String {
    let (open, close) = if af == AF_INET { ("", "") } else { ("[", "]") };
    let addr_len = if af == AF_INET6 { 16 } else { 4 };
    let mut s = if numeric {
        format!("{open}{}{close}:{port}", ntop(af, addr))
    } else {
        let host = names.host_name(af, &addr[..addr_len]).unwrap_or_else(|| ntop(af, addr));
        let serv = serv_proto(protocol).and_then(|p| names.serv_name(port, p)).unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{serv}")
    };
    truncate_bytes(&mut s, 59);
    s
}

/// Cuts `s` to at most `n` bytes (on a character boundary), as a C buffer write would.
pub fn truncate_bytes(s: &mut String, n: usize) {
    if s.len() > n {
        let mut n = n;
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s.truncate(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Names for Fake {
        fn host_v4(&self, name: &str) -> Option<[u8; 4]> {
            (name == "localhost").then_some([127, 0, 0, 1])
        }
        fn host_name(&self, _: u16, addr: &[u8]) -> Option<String> {
            (addr == [127, 0, 0, 1]).then(|| "localhost".to_string())
        }
        fn serv_port(&self, name: &str, proto: &str) -> Option<u16> {
            (name == "http" && proto == "tcp").then_some(80)
        }
        fn serv_name(&self, port: u16, proto: &str) -> Option<String> {
            (port == 80 && proto == "tcp").then(|| "http".to_string())
        }
    }

    fn ep() -> Endpoint {
        Endpoint { af: 0, addr: [0; 16], port: 0, netmask: u32::MAX }
    }

    #[test]
    fn strtol_and_string_to_number() {
        assert_eq!(string_to_number(" +80", 0, 65535), Some(80));
        assert_eq!(string_to_number("-0", 0, 65535), Some(0));
        assert_eq!(string_to_number("", 0, 65535), None);
        assert_eq!(string_to_number("80x", 0, 65535), None);
        assert_eq!(string_to_number("65536", 0, 65535), None);
        assert_eq!(string_to_number("99999999999999999999", 0, i64::MAX), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn fwmarks() {
        assert_eq!(parse_fwmark("7"), Some(7));
        assert_eq!(parse_fwmark("4294967295"), Some(u32::MAX));
        assert_eq!(parse_fwmark("4294967296"), None);
        assert_eq!(parse_fwmark("0"), None);
        assert_eq!(parse_fwmark("-1"), None);
        assert_eq!(parse_fwmark("abc"), None);
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("10.0.0.1"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("10.1"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("10.1.2"), Some([10, 1, 0, 2]));
        assert_eq!(inet_aton("167772161"), Some([10, 0, 0, 1]));
        assert_eq!(inet_aton("0x0a.010.0.1"), Some([10, 8, 0, 1]));
        assert_eq!(inet_aton("1.2.3.4 junk"), Some([1, 2, 3, 4]));
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("08"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1..2"), None);
    }

    #[test]
    fn ntop6_like_glibc() {
        let t = |s: &str| ntop6(&inet_pton6(s).unwrap());
        assert_eq!(t("2001:db8::1"), "2001:db8::1");
        assert_eq!(t("::"), "::");
        assert_eq!(t("::1"), "::1");
        assert_eq!(t("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(t("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(t("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(t("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
        assert_eq!(t("1:0:2:0:3:0:4:0"), "1:0:2:0:3:0:4:0");
        assert_eq!(t("fe80::"), "fe80::");
    }

    #[test]
    fn services() {
        let mut e = ep();
        assert_eq!(parse_service("192.0.2.1:80", 6, &mut e, &Fake), Parsed { addr: true, port: true });
        assert_eq!((e.af, &e.addr[..4], e.port), (AF_INET, &[192, 0, 2, 1][..], 80));
        let mut e = ep();
        assert_eq!(parse_service("localhost:http", 6, &mut e, &Fake), Parsed { addr: true, port: true });
        assert_eq!(e.port, 80);
        let mut e = ep();
        assert_eq!(parse_service("localhost:http", 17, &mut e, &Fake), Parsed::default());
        let mut e = ep();
        assert_eq!(parse_service("[2001:db8::1]:443", 6, &mut e, &Fake), Parsed { addr: true, port: true });
        assert_eq!((e.af, e.port, e.netmask), (AF_INET6, 443, 128));
        let mut e = ep();
        assert_eq!(parse_service("2001:db8::1", 6, &mut e, &Fake), Parsed { addr: true, port: false });
        // "[v4]:port" loses its port: the colon is outside what strrchr sees.
        let mut e = ep();
        assert_eq!(parse_service("[192.0.2.1]:80", 6, &mut e, &Fake), Parsed { addr: true, port: false });
        assert_eq!(e.port, 0);
        for bad in ["80", "", "[2001:db8::1", "[2001:db8::1]80", "192.0.2.300:80", "192.0.2.1:99999", "x:80"] {
            assert_eq!(parse_service(bad, 6, &mut ep(), &Fake), Parsed::default(), "{bad}");
        }
        let mut e = ep();
        assert_eq!(parse_service("192.0.2.1", 6, &mut e, &Fake), Parsed { addr: true, port: false });
    }

    #[test]
    fn netmasks_and_names() {
        assert_eq!(parse_netmask("255.255.255.0", &Fake), Some(u32::from_ne_bytes([255, 255, 255, 0])));
        assert_eq!(parse_netmask("localhost", &Fake), Some(u32::from_ne_bytes([127, 0, 0, 1])));
        assert_eq!(parse_netmask("nope", &Fake), None);
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(addrport_to_anyname(AF_INET, &a, 80, 6, false, &Fake), "localhost:http");
        assert_eq!(addrport_to_anyname(AF_INET, &a, 80, 6, true, &Fake), "127.0.0.1:80");
        let v6 = inet_pton6("2001:db8::1").unwrap();
        assert_eq!(addrport_to_anyname(AF_INET6, &v6, 8080, 17, false, &Fake), "[2001:db8::1]:8080");
    }
}
