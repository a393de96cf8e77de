//! The texts of /proc/net/ip_vs, ip_vs_stats and ip_vs_conn, in the kernel's
//! formats (`ip_vs_info_seq_show`, `ip_vs_stats_show`, `ip_vs_conn_seq_show`),
//! which the shim serves to programs that read those files.

use std::fmt::Write;
use std::net::Ipv6Addr;

use ipvs_genl::consts::{fwd, svc_flags, AF_INET6, IP_VS_VERSION_CODE};
use ipvs_genl::ipvs::ServiceKey;

use super::state::IpvsState;

fn proto_name(p: u16) -> String {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        132 => "SCTP".into(),
        1 => "ICMP".into(),
        58 => "ICMPv6".into(),
        p => format!("IP_{p}"),
    }
}

fn fwd_name(f: u32) -> &'static str {
    match f & fwd::MASK {
        fwd::LOCALNODE => "Local",
        fwd::TUNNEL => "Tunnel",
        fwd::DROUTE => "Route",
        fwd::FULLNAT => "FullNat",
        _ => "Masq",
    }
}

fn hex4(addr: &[u8; 16]) -> String {
    format!("{:08X}", u32::from_be_bytes([addr[0], addr[1], addr[2], addr[3]]))
}

/// An IPv6 address as the kernel's `%pI6` prints it: eight zero-padded groups.
fn full_v6(addr: &[u8; 16]) -> String {
    let seg = Ipv6Addr::from(*addr).segments();
    seg.iter().map(|g| format!("{g:04x}")).collect::<Vec<_>>().join(":")
}

/// /proc/net/ip_vs.
pub fn ip_vs(st: &IpvsState, conn_tab_size: u32) -> String {
    let v = IP_VS_VERSION_CODE;
    let mut s = format!(
        "IP Virtual Server version {}.{}.{} (size={})\n\
         Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        conn_tab_size
    );
    for svc in st.services.values() {
        let sched = svc.sched.as_deref().unwrap_or("none");
        let ops = if svc.flags & svc_flags::ONEPACKET != 0 { "ops " } else { "" };
        match svc.key {
            ServiceKey::Tuple { af, protocol, addr, port } if af == AF_INET6 => {
                let _ = write!(s, "{}  [{}]:{:04X} {} ", proto_name(protocol), full_v6(&addr), port, sched);
            }
            ServiceKey::Tuple { protocol, addr, port, .. } => {
                let _ = write!(s, "{}  {}:{:04X} {} {} ", proto_name(protocol), hex4(&addr), port, sched, ops);
            }
            ServiceKey::Fwmark { mark, .. } => {
                let _ = write!(s, "FWM  {:08X} {} {}", mark, sched, ops);
            }
        }
        if svc.flags & svc_flags::PERSISTENT != 0 {
            let _ = writeln!(s, "persistent {} {:08X}", svc.timeout_jiffies as i32, u32::from_be_bytes(svc.netmask));
        } else {
            s.push('\n');
        }
        for d in &svc.dests {
            let addr = if d.af == AF_INET6 { format!("[{}]", full_v6(&d.addr)) } else { hex4(&d.addr) };
            let _ = writeln!(
                s,
                "  -> {}:{:04X}      {:<7} {:<6} {:<10} {:<10}",
                addr,
                d.port,
                fwd_name(d.params.fwd),
                d.params.weight as i32,
                d.active_conns,
                d.inact_conns
            );
        }
    }
    s
}

/// /proc/net/ip_vs_stats: totals over every service, and their rates.
pub fn ip_vs_stats(st: &IpvsState, rates: &ipvs_genl::ipvs::Stats) -> String {
    let mut t = *rates;
    for svc in st.services.values() {
        t.conns += svc.stats.conns;
        t.inpkts += svc.stats.inpkts;
        t.outpkts += svc.stats.outpkts;
        t.inbytes += svc.stats.inbytes;
        t.outbytes += svc.stats.outbytes;
    }
    format!(
        "   Total Incoming Outgoing         Incoming         Outgoing\n\
         \x20  Conns  Packets  Packets            Bytes            Bytes\n\
         {:8X} {:8X} {:8X} {:16X} {:16X}\n\n\
         \x20Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n\
         {:8X} {:8X} {:8X} {:16X} {:16X}\n",
        t.conns, t.inpkts, t.outpkts, t.inbytes, t.outbytes, t.cps, t.inpps, t.outpps, t.inbps, t.outbps
    )
}

/// /proc/net/ip_vs_conn: the header, then the dataplane's connection lines.
pub fn ip_vs_conn(lines: &str) -> String {
    format!("Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n{lines}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_texts() {
        let st = IpvsState::default();
        assert_eq!(
            ip_vs(&st, 4096),
            "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
        );
        let z = ipvs_genl::ipvs::Stats::default();
        assert!(ip_vs_stats(&st, &z).starts_with("   Total Incoming Outgoing"));
        assert!(ip_vs_stats(&st, &z).contains("\n       0        0        0                0                0\n\n"));
    }
}
