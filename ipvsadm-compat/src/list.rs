//! ipvsadm's listings, byte for byte: `list_all`, `list_service`, `print_service_entry` (its
//! table, `--stats`, `--rate`, `--thresholds`, `--persistent-conn`, `--tun-info` and `-S` rule
//! forms), `list_timeout`, `list_daemon`, `list_conn`, and libipvs's sort order.

use std::fmt::Write as _;

use ipvs_genl::consts::{fwd, svc_flags, AF_INET, AF_INET6};

use crate::grammar::{fmt, DaemonCfg, TimeoutCfg};
use crate::ipvs::{DestRow, ServiceRow};
use crate::parse::{self, addrport_to_anyname, Names};

/// glibc's `qsort` on these arrays: a top-down merge sort, taking the left element unless the
/// comparison says the right one is smaller. libipvs's comparators subtract as `int`, which is
/// not a total order, so the exact algorithm decides the output.
pub fn msort<T: Clone>(v: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    msort(&mut v[..n1], cmp);
    msort(&mut v[n1..], cmp);
    let mut tmp = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i], &v[j]) <= 0 {
            tmp.push(v[i].clone());
            i += 1;
        } else {
            tmp.push(v[j].clone());
            j += 1;
        }
    }
    tmp.extend_from_slice(&v[i..n1]);
    tmp.extend_from_slice(&v[j..n]);
    v.clone_from_slice(&tmp);
}

fn word(a: &[u8; 16], i: usize) -> u32 {
    u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]])
}

fn addr_cmp(af: u16, a: &[u8; 16], b: &[u8; 16]) -> i32 {
    if af == AF_INET6 {
        let mut r = 0;
        for i in 0..4 {
            r = word(a, i).wrapping_sub(word(b, i)) as i32;
            if r != 0 {
                break;
            }
        }
        r
    } else {
        word(a, 0).wrapping_sub(word(b, 0)) as i32
    }
}

/// `ipvs_cmp_services`.
pub fn cmp_services(s1: &ServiceRow, s2: &ServiceRow) -> i32 {
    let r = s1.fwmark.wrapping_sub(s2.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(s1.af) - i32::from(s2.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(s1.protocol) - i32::from(s2.protocol);
    if r != 0 {
        return r;
    }
    let r = addr_cmp(s1.af, &s1.addr, &s2.addr);
    if r != 0 {
        return r;
    }
    i32::from(s1.port) - i32::from(s2.port)
}

/// `ipvs_cmp_dests`.
pub fn cmp_dests(d1: &DestRow, d2: &DestRow) -> i32 {
    let r = addr_cmp(d1.af, &d1.addr, &d2.addr);
    if r != 0 {
        return r;
    }
    i32::from(d1.port) - i32::from(d2.port)
}

/// `print_largenum`.
pub fn largenum(out: &mut String, i: u64, format: u32) {
    if format & fmt::EXACT != 0 {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>w$}");
        return;
    }
    let _ = match i {
        i if i < 100_000_000 => write!(out, "{i:>9}"),
        i if i < 1_000_000_000 => write!(out, "{:>8}K", i / 1000),
        i if i < 100_000_000_000 => write!(out, "{:>8}M", i / 1_000_000),
        i if i < 100_000_000_000_000 => write!(out, "{:>8}G", i / 1_000_000_000),
        i => write!(out, "{:>8}T", i / 1_000_000_000_000),
    };
}

/// `print_title`.
pub fn title(out: &mut String, format: u32) {
    let head = |a: [&str; 5]| {
        format!(
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", a[0], a[1], a[2], a[3], a[4]
        )
    };
    if format & fmt::STATS != 0 {
        out.push_str(&head(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]));
    } else if format & fmt::RATE != 0 {
        out.push_str(&head(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]));
    } else if format & fmt::THRESHOLDS != 0 {
        let _ = write!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        );
    } else if format & fmt::PERSISTENTCONN != 0 {
        let _ = write!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        );
    } else if format & fmt::TUN_INFO != 0 {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n");
    } else if format & fmt::RULE == 0 {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    }
}

/// `fwd_name`; DPVS's full-NAT (5) as DPVS's ipvsadm names it.
fn fwd_name(flags: u32) -> &'static str {
    match flags & fwd::MASK {
        fwd::MASQ => "Masq",
        fwd::LOCALNODE => "Local",
        fwd::TUNNEL => "Tunnel",
        fwd::DROUTE => "Route",
        fwd::FULLNAT => "FullNat",
        // printf("%s", NULL) in glibc.
        _ => "(null)",
    }
}

/// `fwd_switch`; full-NAT as ipvsadm-compat's `--fullnat`.
fn fwd_switch(flags: u32) -> &'static str {
    match flags & fwd::MASK {
        fwd::MASQ => "-m",
        fwd::TUNNEL => "-i",
        fwd::LOCALNODE | fwd::DROUTE => "-g",
        fwd::FULLNAT => "--fullnat",
        _ => "(null)",
    }
}

const TUNFLAGS: [&str; 3] = ["-c", "+c", "r+c"];
const TUN_FLAGS_OPTS: [&str; 3] = ["--tun-nocsum", "--tun-csum", "--tun-remcsum"];

/// `tunflags[e->tun_flags]` (an out-of-range index reads past ipvsadm's array; print "?").
fn tunflag(i: u16, table: &[&'static str; 3]) -> &'static str {
    table.get(usize::from(i)).copied().unwrap_or("?")
}

fn fwd_tun_info(e: &DestRow) -> Option<String> {
    if e.conn_flags & fwd::MASK != fwd::TUNNEL {
        return None;
    }
    let mut s = match e.tun_type {
        0 => "ipip".to_string(),
        1 => format!("gue:{}:{}", e.tun_port, tunflag(e.tun_flags, &TUNFLAGS)),
        2 => format!("gre:{}", tunflag(e.tun_flags, &TUNFLAGS)),
        _ => return None,
    };
    parse::truncate_bytes(&mut s, 15);
    Some(s)
}

fn sched_flags(se: &ServiceRow) -> String {
    let mut v = Vec::new();
    let f = se.flags;
    match se.sched_name.as_str() {
        "sh" | "mh" => {
            let n = se.sched_name.as_str();
            if f & svc_flags::SCHED1 != 0 {
                v.push(format!("{n}-fallback"));
            }
            if f & svc_flags::SCHED2 != 0 {
                v.push(format!("{n}-port"));
            }
        }
        _ => {
            for (bit, name) in
                [(svc_flags::SCHED1, "flag-1"), (svc_flags::SCHED2, "flag-2"), (svc_flags::SCHED3, "flag-3")]
            {
                if f & bit != 0 {
                    v.push(name.to_string());
                }
            }
        }
    }
    v.join(",")
}

fn inet_ntoa(mask: u32) -> String {
    let b = mask.to_ne_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn protocol_name(p: u16) -> &'static str {
    match p {
        6 => "TCP",
        17 => "UDP",
        132 => "SCTP",
        _ => "?",
    }
}

fn protocol_option(p: u16) -> &'static str {
    match p {
        6 => "-t",
        17 => "-u",
        132 => "--sctp-service",
        _ => "--xxx-service",
    }
}

/// `print_service_entry` for a service and its (already fetched) dests.
pub fn service_entry(out: &mut String, se: &ServiceRow, dests: &mut [DestRow], format: u32, names: &dyn Names) {
    let rule = format & fmt::RULE != 0;
    let svc_name = if se.fwmark != 0 {
        let v6 = if se.af == AF_INET6 {
            if rule {
                " -6"
            } else {
                " IPv6"
            }
        } else {
            ""
        };
        if rule {
            format!("-f {}{v6}", se.fwmark as i32)
        } else {
            format!("FWM  {}{v6}", se.fwmark as i32)
        }
    } else {
        let vname = addrport_to_anyname(se.af, &se.addr, se.port, se.protocol, format & fmt::NUMERIC != 0, names);
        if rule {
            let mut s = format!("{} {vname}", protocol_option(se.protocol));
            parse::truncate_bytes(&mut s, 1023);
            s
        } else {
            let mut s = format!("{:<4} {vname}", protocol_name(se.protocol));
            parse::truncate_bytes(&mut s, 1023);
            if se.af != AF_INET6 {
                parse::truncate_bytes(&mut s, 33);
            }
            s
        }
    };
    let has_sched_flags = se.flags & (svc_flags::SCHED1 | svc_flags::SCHED2 | svc_flags::SCHED3) != 0;
    let mask_text = || -> Option<String> {
        if se.af == AF_INET && se.netmask != u32::MAX {
            Some(inet_ntoa(se.netmask))
        } else if se.af == AF_INET6 && se.netmask != 128 {
            Some((se.netmask as i32).to_string())
        } else {
            None
        }
    };
    if rule {
        let _ = write!(out, "-A {svc_name} -s {}", se.sched_name);
        if se.flags & svc_flags::PERSISTENT != 0 {
            let _ = write!(out, " -p {}", se.timeout);
            if let Some(m) = mask_text() {
                let _ = write!(out, " -M {m}");
            }
        }
        if !se.pe_name.is_empty() {
            let _ = write!(out, " --pe {}", se.pe_name);
        }
        if se.flags & svc_flags::ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if has_sched_flags {
            let _ = write!(out, " -b {}", sched_flags(se));
        }
    } else if format & (fmt::STATS | fmt::RATE) != 0 {
        let _ = write!(out, "{svc_name:<33}");
        let s = &se.stats;
        let vals = if format & fmt::STATS != 0 {
            [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
        } else {
            [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
        };
        for v in vals {
            largenum(out, v, format);
        }
    } else {
        let _ = write!(out, "{svc_name} {}", se.sched_name);
        if has_sched_flags {
            let _ = write!(out, " ({})", sched_flags(se));
        }
        if se.flags & svc_flags::PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", se.timeout);
            if let Some(m) = mask_text() {
                let _ = write!(out, " mask {m}");
            }
            if !se.pe_name.is_empty() {
                let _ = write!(out, " pe {}", se.pe_name);
            }
        }
        if se.flags & svc_flags::ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    if format & fmt::NOSORT == 0 {
        msort(dests, &cmp_dests);
    }
    for e in dests.iter() {
        let mut dname = addrport_to_anyname(e.af, &e.addr, e.port, se.protocol, format & fmt::NUMERIC != 0, names);
        if !rule && e.af != AF_INET6 {
            parse::truncate_bytes(&mut dname, 28);
        }
        let method = e.conn_flags & fwd::MASK;
        if rule {
            let base = format!("-a {svc_name} -r {dname} {} -w {}", fwd_switch(e.conn_flags), e.weight);
            if method == fwd::TUNNEL {
                let _ = match e.tun_type {
                    2 => writeln!(out, "{base} --tun-type gre {}", tunflag(e.tun_flags, &TUN_FLAGS_OPTS)),
                    1 => writeln!(
                        out,
                        "{base} --tun-type gue --tun-port {} {}",
                        e.tun_port,
                        tunflag(e.tun_flags, &TUN_FLAGS_OPTS)
                    ),
                    0 => writeln!(out, "{base} --tun-type ipip"),
                    _ => writeln!(out, "{base}"),
                };
            } else {
                let _ = writeln!(out, "{base}");
            }
        } else if format & fmt::STATS != 0 {
            let _ = write!(out, "  -> {dname:<28}");
            let s = &e.stats;
            for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
                largenum(out, v, format);
            }
            out.push('\n');
        } else if format & fmt::RATE != 0 {
            let s = &e.stats;
            let _ = write!(out, "  -> {dname:<28} {:>8} {:>8} {:>8}", s.cps, s.inpps, s.outpps);
            largenum(out, s.inbps, format);
            largenum(out, s.outbps, format);
            out.push('\n');
        } else if format & fmt::THRESHOLDS != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                e.u_threshold, e.l_threshold, e.active, e.inactive
            );
        } else if format & fmt::PERSISTENTCONN != 0 {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                e.weight as u32, e.persist, e.active, e.inactive
            );
        } else if format & fmt::TUN_INFO != 0 {
            let ti = fwd_tun_info(e).unwrap_or_else(|| "n/a".to_string());
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {ti:<13} {:<6} {:<10} {:<10}",
                fwd_name(e.conn_flags),
                e.weight,
                e.active,
                e.inactive
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(e.conn_flags),
                e.weight,
                e.active,
                e.inactive
            );
        }
    }
}

/// `list_timeout`'s line.
pub fn timeouts(t: &TimeoutCfg) -> String {
    format!("Timeout (tcp tcpfin udp): {} {} {}\n", t.tcp as i32, t.tcp_fin as i32, t.udp as i32)
}

/// `list_daemon`.
pub fn daemons(u: &[DaemonCfg; 2]) -> String {
    let mut out = String::new();
    for d in u {
        let kind = if d.state & 1 != 0 {
            "master"
        } else if d.state & 2 != 0 {
            "backup"
        } else {
            continue;
        };
        let _ = write!(out, "{kind} sync daemon (mcast={}, syncid={}", d.mcast_ifn, d.syncid as i32);
        if d.sync_maxlen != 0 {
            let _ = write!(out, ", maxlen={}", d.sync_maxlen);
        }
        if d.mcast_af == AF_INET {
            let _ = write!(out, ", group={}", parse::ntop(AF_INET, &d.mcast_group));
        } else if d.mcast_af == AF_INET6 {
            let _ = write!(out, ", group={}", parse::ntop6(&d.mcast_group));
        }
        if d.mcast_port != 0 {
            let _ = write!(out, ", port={}", d.mcast_port);
        }
        if d.mcast_ttl != 0 {
            let _ = write!(out, ", ttl={}", d.mcast_ttl);
        }
        out.push_str(")\n");
    }
    out
}

/// `list_conn`'s header lines.
pub fn conn_header(format: u32) -> String {
    if format & fmt::PERSISTENTCONN != 0 {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        )
    } else {
        format!(
            "IPVS connection entries\npro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        )
    }
}

/// `print_conn` for one line of /proc/net/ip_vs_conn; None when ipvsadm would exit(1).
pub fn conn_line(line: &str, format: u32, names: &dyn Names) -> Option<String> {
    let toks: Vec<&str> = line.split_ascii_whitespace().collect();
    if toks.is_empty() {
        return None;
    }
    // sscanf "%s %s %hX %s %hX %s %hX %s %d %s %s": stops at the first field that fails.
    let hex = |s: &str| -> Option<u16> {
        let t = s.trim_start_matches("0x").trim_start_matches("0X");
        let end = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
        (end > 0).then(|| u32::from_str_radix(&t[..end], 16).map(|v| v as u16).unwrap_or(u16::MAX))
    };
    let get = |i: usize| toks.get(i).copied();
    let protocol = get(0)?;
    let mut n = 1;
    let c1 = get(1);
    let cport = c1.and(get(2)).and_then(hex);
    let c2 = cport.and(get(3));
    let vport = c2.and(get(4)).and_then(hex);
    let c3 = vport.and(get(5));
    let dport = c3.and(get(6)).and_then(hex);
    let state = dport.and(get(7));
    let expires = state.and(get(8)).and_then(|s| {
        let (v, _, used) = parse::strtol(s);
        (used > 0).then_some(v as i32)
    });
    let pe_name = expires.and(get(9));
    let pe_data = pe_name.and(get(10));
    for f in [
        c1.is_some(),
        cport.is_some(),
        c2.is_some(),
        vport.is_some(),
        c3.is_some(),
        dport.is_some(),
        state.is_some(),
        expires.is_some(),
        pe_name.is_some(),
        pe_data.is_some(),
    ] {
        if f {
            n += 1;
        }
    }
    let proto = match protocol {
        "TCP" => 6,
        "UDP" => 17,
        "SCTP" => 132,
        _ => 0,
    };
    let parse_addr = |s: Option<&str>| -> (u16, [u8; 16]) {
        let s = s.unwrap_or("");
        if let Some(a) = parse::inet_pton6(s) {
            (AF_INET6, a)
        } else {
            let mut a = [0u8; 16];
            let v4 = parse::inet_pton4(s).unwrap_or_else(|| {
                let hex: String = s.chars().take_while(char::is_ascii_hexdigit).collect();
                u32::from_str_radix(&hex, 16).unwrap_or(if hex.is_empty() { 0 } else { u32::MAX }).to_be_bytes()
            });
            a[..4].copy_from_slice(&v4);
            (AF_INET, a)
        }
    };
    let (af, caddr) = parse_addr(c1);
    let (_, vaddr) = parse_addr(c2);
    let (daf, daddr) = parse_addr(c3);
    let numeric = format & fmt::NUMERIC != 0;
    let cname = addrport_to_anyname(af, &caddr, cport.unwrap_or(0), proto, numeric, names);
    let vname = addrport_to_anyname(af, &vaddr, vport.unwrap_or(0), proto, numeric, names);
    let dname = addrport_to_anyname(daf, &daddr, dport.unwrap_or(0), proto, numeric, names);
    let exp = expires.unwrap_or(0) as u32;
    let expire = format!("{:02}:{:02}", exp / 60, exp % 60);
    let state = state.unwrap_or("");
    if format & fmt::PERSISTENTCONN != 0 && n == 11 {
        Some(format!(
            "{protocol:<3} {expire:<6} {state:<11} {cname:<18} {vname:<18} {dname:<16} {:<18} {}\n",
            pe_name.unwrap_or(""),
            pe_data.unwrap_or("")
        ))
    } else {
        Some(format!("{protocol:<3} {expire:<6} {state:<11} {cname:<18} {vname:<18} {dname}\n"))
    }
}

/// Sorts services as `list_all` does.
pub fn sort_services(v: &mut [ServiceRow]) {
    msort(v, &cmp_services);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::NoNames;
    use ipvs_genl::ipvs::Stats;

    fn svc(addr: [u8; 4], port: u16) -> ServiceRow {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&addr);
        ServiceRow {
            af: AF_INET,
            protocol: 6,
            addr: a,
            port,
            fwmark: 0,
            sched_name: "rr".into(),
            pe_name: String::new(),
            flags: svc_flags::HASHED,
            timeout: 0,
            netmask: u32::MAX,
            stats: Stats::default(),
        }
    }

    #[test]
    fn int_subtraction_sorts_far_addresses_reversed() {
        let mut v = vec![svc([10, 0, 0, 1], 80), svc([192, 0, 2, 1], 80), svc([192, 0, 2, 1], 22)];
        sort_services(&mut v);
        let got: Vec<(u8, u16)> = v.iter().map(|s| (s.addr[0], s.port)).collect();
        assert_eq!(got, [(192, 22), (192, 80), (10, 80)]);
    }

    #[test]
    fn largenum_units_and_exact() {
        let f = |i, fm| {
            let mut s = String::new();
            largenum(&mut s, i, fm);
            s
        };
        assert_eq!(f(5, 0), "        5");
        assert_eq!(f(123_456_789, 0), "  123456K");
        assert_eq!(f(12_345_678_901, 0), "   12345M");
        assert_eq!(f(123_456_789, fmt::EXACT), " 123456789");
        assert_eq!(f(5, fmt::EXACT), "        5");
    }

    #[test]
    fn service_lines() {
        let mut s = String::new();
        let mut se = svc([192, 0, 2, 1], 80);
        se.flags |= svc_flags::PERSISTENT;
        se.timeout = 600;
        se.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        service_entry(&mut s, &se, &mut [], fmt::NUMERIC, &NoNames);
        assert_eq!(s, "TCP  192.0.2.1:80 rr persistent 600 mask 255.255.255.0\n");
        let mut s = String::new();
        service_entry(&mut s, &se, &mut [], fmt::NUMERIC | fmt::RULE, &NoNames);
        assert_eq!(s, "-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0\n");
    }

    #[test]
    fn conn_lines() {
        let line = "TCP C0000201 1F90 C0000202 0050 C6336410 0050 ESTABLISHED     890\n";
        assert_eq!(
            conn_line(line, fmt::NUMERIC, &NoNames).unwrap(),
            "TCP 14:50  ESTABLISHED 192.0.2.1:8080     192.0.2.2:80       198.51.100.16:80\n"
        );
        let v6 = "UDP 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:0002 0035 \
                  2001:0db8:0000:0000:0000:0000:0000:0010 0035 UDP             59 sip 0123\n";
        assert_eq!(
            conn_line(v6, fmt::NUMERIC | fmt::PERSISTENTCONN, &NoNames).unwrap(),
            "UDP 00:59  UDP         [2001:db8::1]:53   [2001:db8::2]:53   [2001:db8::10]:53 sip                0123\n"
        );
        assert_eq!(
            conn_line(v6, fmt::NUMERIC, &NoNames).unwrap(),
            "UDP 00:59  UDP         [2001:db8::1]:53   [2001:db8::2]:53   [2001:db8::10]:53\n"
        );
        // sscanf finds nothing in a blank line: ipvsadm exits.
        assert_eq!(conn_line("\n", fmt::NUMERIC, &NoNames), None);
    }
}
