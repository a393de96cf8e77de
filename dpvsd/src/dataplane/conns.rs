//! A connection as `/proc/net/ip_vs_conn` shows it (`ip_vs_conn_seq_show`), which is what
//! `ipvsadm -Lc` reads.

use std::fmt::Write;
use std::net::IpAddr;

use dpvs_core::conn::Conn;
use dpvs_core::proto::{self, Protocol};

fn proto_name(p: u8, template: bool) -> &'static str {
    match p {
        _ if template => "IP",
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        1 => "ICMP",
        58 => "ICMPv6",
        _ => "IP",
    }
}

fn v4_hex(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => format!("{:08X}", u32::from(a)),
        // an IPv6 address in an IPv4 line cannot happen: tunnels to IPv6 dests of IPv4
        // services print their dest as the kernel does, by its first 32 bits
        IpAddr::V6(a) => format!("{:08X}", u32::from_be_bytes(a.octets()[..4].try_into().unwrap_or([0; 4]))),
    }
}

fn v6_full(a: IpAddr) -> String {
    let seg = match a {
        IpAddr::V6(a) => a.segments(),
        IpAddr::V4(a) => a.to_ipv6_mapped().segments(),
    };
    seg.iter().map(|g| format!("{g:04x}")).collect::<Vec<_>>().join(":")
}

/// Appends `c`'s line; `expires_s` is what its timer has left, in seconds.
pub fn write_line(out: &mut String, c: &Conn, expires_s: u64) {
    let state = if c.is_template() {
        "NONE"
    } else {
        Protocol::from_number(c.protocol()).map_or("ERR!", |p| proto::state_name(p, c.state()))
    };
    let name = proto_name(c.protocol(), c.is_template());
    let _ = if c.is_v6() {
        writeln!(
            out,
            "{:<3} {} {:04X} {} {:04X} {} {:04X} {:<11} {:7}",
            name,
            v6_full(c.caddr()),
            c.cport(),
            v6_full(c.vaddr()),
            c.vport(),
            v6_full(c.daddr()),
            c.dport(),
            state,
            expires_s
        )
    } else {
        writeln!(
            out,
            "{:<3} {} {:04X} {} {:04X} {} {:04X} {:<11} {:7}",
            name,
            v4_hex(c.caddr()),
            c.cport(),
            v4_hex(c.vaddr()),
            c.vport(),
            v4_hex(c.daddr()),
            c.dport(),
            state,
            expires_s
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpvs_core::conn::{ConnKey, ConnTable, ConnTableConfig, NewConn};
    use dpvs_core::service::{DestId, FwdMethod};

    #[test]
    fn kernel_format() {
        let mut t = ConnTable::new(ConnTableConfig { capacity: 16, ..Default::default() }, 0);
        let key = ConnKey::new(6, "10.90.1.2".parse().unwrap(), 50000, "10.90.0.100".parse().unwrap(), 80);
        let nc = NewConn {
            key,
            daddr: u128::from(u32::from_be_bytes([10, 90, 2, 11])),
            dest_v6: false,
            dport: 80,
            laddr: None,
            fwd: FwdMethod::Masq,
            dest: DestId { slot: 0, tag: 0 },
            template: false,
            timeout_ms: 60_000,
            control: None,
            one_packet: false,
        };
        let r = t.insert(&nc, 0).unwrap();
        let mut s = String::new();
        write_line(&mut s, t.get(r), 59);
        // a new entry starts in state NONE until the state machine moves it
        assert_eq!(s, "TCP 0A5A0102 C350 0A5A0064 0050 0A5A020B 0050 NONE             59\n");
    }
}
