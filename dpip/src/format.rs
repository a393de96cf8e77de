//! What dpip prints, as iproute2 6.1's `ip` prints the same objects (`ip link`, `ip -s
//! link`, `ip addr`, `ip route`, `ip neigh`, and their `-j` JSON), plus `dpip stats`.
//! dpvsd's ports have no qdisc, group or tx queue length, so those words are not printed.

use std::fmt::Write as _;
use std::net::IpAddr;

use dpip_proto::{self as proto, Addr, Link, Neigh, Route, WorkerStats};

use crate::json::Json;

/// How to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// `-s` given this many times.
    pub stats: u8,
    pub json: bool,
    pub pretty: bool,
}

fn mac(m: &[u8; 6]) -> String {
    m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The name of interface `index` (`if<N>` when unknown, as ip prints).
pub fn dev_name(links: &[Link], index: u32) -> String {
    links.iter().find(|l| l.index == index).map_or_else(|| format!("if{index}"), |l| l.name.clone())
}

fn link_flags(l: &Link) -> Vec<&'static str> {
    let mut v = Vec::new();
    if l.up && !l.carrier {
        v.push("NO-CARRIER");
    }
    v.push("BROADCAST");
    v.push("MULTICAST");
    if l.promisc {
        v.push("PROMISC");
    }
    if l.up {
        v.push("UP");
        if l.carrier {
            v.push("LOWER_UP");
        }
    }
    v
}

fn operstate(l: &Link) -> &'static str {
    if l.up && l.carrier {
        "UP"
    } else {
        "DOWN"
    }
}

fn link_head_text(out: &mut String, l: &Link, mode: bool, ether: bool) {
    let _ = writeln!(
        out,
        "{}: {}: <{}> mtu {} state {}{}",
        l.index,
        l.name,
        link_flags(l).join(","),
        l.mtu,
        operstate(l),
        if mode { " mode DEFAULT" } else { "" }
    );
    if ether {
        let _ = writeln!(out, "    link/ether {} brd ff:ff:ff:ff:ff:ff", mac(&l.mac));
    }
}

/// iproute2's `print_stats64` at one `-s`: columns as wide as their widest number.
fn link_stats_text(out: &mut String, l: &Link) {
    let s = &l.stats;
    let mut cols = ["*X errors:".len(), "packets".len(), "errors".len(), "dropped".len(), "heartbt".len(), "overrun".len(), "compressed".len()];
    let rx = [s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, s.rx_missed, 0];
    let tx = [s.tx_bytes, s.tx_packets, s.tx_errors, 0, 0, 0];
    for vals in [rx, tx] {
        for (c, v) in cols.iter_mut().zip(vals) {
            *c = (*c).max(v.to_string().len());
        }
    }
    let head = |out: &mut String, dir: &str, names: [&str; 6]| {
        let _ = writeln!(
            out,
            "    {dir}: {:>w0$} {:>w1$} {:>w2$} {:>w3$} {:>w4$} {:>w5$} {:>w6$}",
            names[0],
            names[1],
            names[2],
            names[3],
            names[4],
            names[5],
            "",
            w0 = cols[0] - 4,
            w1 = cols[1],
            w2 = cols[2],
            w3 = cols[3],
            w4 = cols[4],
            w5 = cols[5],
            w6 = cols[6],
        );
    };
    let row = |out: &mut String, vals: [u64; 6]| {
        out.push_str("    ");
        for (c, v) in cols.iter().zip(vals) {
            let _ = write!(out, "{v:>c$} ");
        }
        out.push('\n');
    };
    head(out, "RX", ["bytes", "packets", "errors", "dropped", "missed", "mcast"]);
    row(out, rx);
    head(out, "TX", ["bytes", "packets", "errors", "dropped", "carrier", "collsns"]);
    row(out, tx);
}

fn link_head_json(j: &mut Json, l: &Link, mode: bool, ether: bool) {
    j.kv_uint("ifindex", u64::from(l.index));
    j.kv_str("ifname", &l.name);
    j.kv_strings("flags", &link_flags(l));
    j.kv_uint("mtu", u64::from(l.mtu));
    j.kv_str("operstate", operstate(l));
    if mode {
        j.kv_str("linkmode", "DEFAULT");
    }
    if ether {
        j.kv_str("link_type", "ether");
        j.kv_str("address", &mac(&l.mac));
        j.kv_str("broadcast", "ff:ff:ff:ff:ff:ff");
    }
}

fn link_stats_json(j: &mut Json, l: &Link) {
    let s = &l.stats;
    j.name("stats64");
    j.start_object();
    j.name("rx");
    j.start_object();
    for (k, v) in [
        ("bytes", s.rx_bytes),
        ("packets", s.rx_packets),
        ("errors", s.rx_errors),
        ("dropped", s.rx_dropped),
        ("over_errors", 0),
        ("multicast", 0),
        ("missed", s.rx_missed),
    ] {
        j.kv_uint(k, v);
    }
    j.end_object();
    j.name("tx");
    j.start_object();
    for (k, v) in [
        ("bytes", s.tx_bytes),
        ("packets", s.tx_packets),
        ("errors", s.tx_errors),
        ("dropped", 0),
        ("carrier_errors", 0),
        ("collisions", 0),
    ] {
        j.kv_uint(k, v);
    }
    j.end_object();
    j.end_object();
    j.kv_uint("num_rx_queues", u64::from(l.queues));
    j.kv_uint("num_tx_queues", u64::from(l.queues));
}

/// `dpip [-s] link show`.
pub fn links(links: &[Link], st: Style) -> String {
    if st.json {
        let mut j = Json::new(st.pretty);
        j.start_array();
        for l in links {
            j.start_object();
            link_head_json(&mut j, l, true, true);
            if st.stats > 0 {
                link_stats_json(&mut j, l);
            }
            j.end_object();
        }
        j.end_array();
        return j.finish();
    }
    let mut out = String::new();
    for l in links {
        link_head_text(&mut out, l, true, true);
        if st.stats > 0 {
            link_stats_text(&mut out, l);
        }
    }
    out
}

fn family_name(a: IpAddr) -> &'static str {
    if a.is_ipv4() {
        "inet"
    } else {
        "inet6"
    }
}

fn scope_name(s: u8) -> String {
    match s {
        proto::RT_SCOPE_UNIVERSE => "global".into(),
        200 => "site".into(),
        proto::RT_SCOPE_LINK => "link".into(),
        proto::RT_SCOPE_HOST => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// `dpip addr show`: every link with its addresses. `family_only` (-4 or -6): as ip, no
/// link-layer line (the caller passes only the links with an address of that family).
pub fn addrs(links: &[Link], addrs: &[Addr], st: Style, family_only: bool) -> String {
    if st.json {
        let mut j = Json::new(st.pretty);
        j.start_array();
        for l in links {
            j.start_object();
            link_head_json(&mut j, l, false, !family_only);
            j.name("addr_info");
            j.start_array();
            for a in addrs.iter().filter(|a| a.index == l.index) {
                j.start_object();
                j.kv_str("family", family_name(a.addr));
                j.kv_str("local", &a.addr.to_string());
                j.kv_uint("prefixlen", u64::from(a.len));
                j.kv_str("scope", &scope_name(a.scope));
                if a.sapool {
                    j.kv_bool("sapool", true);
                }
                if a.addr.is_ipv4() {
                    j.kv_str("label", &l.name);
                }
                j.kv_uint("valid_life_time", u64::from(u32::MAX));
                j.kv_uint("preferred_life_time", u64::from(u32::MAX));
                j.end_object();
            }
            j.end_array();
            j.end_object();
        }
        j.end_array();
        return j.finish();
    }
    let mut out = String::new();
    for l in links {
        link_head_text(&mut out, l, false, !family_only);
        for a in addrs.iter().filter(|a| a.index == l.index) {
            let _ = write!(out, "    {} {}/{} scope {} ", family_name(a.addr), a.addr, a.len, scope_name(a.scope));
            if a.sapool {
                out.push_str("sapool ");
            }
            if a.addr.is_ipv4() {
                out.push_str(&l.name);
            }
            out.push('\n');
            out.push_str("       valid_lft forever preferred_lft forever\n");
        }
    }
    out
}

fn route_dst(r: &Route) -> String {
    let max = if r.dst.is_ipv4() { 32 } else { 128 };
    if r.len == 0 && r.kind == proto::RTN_UNICAST {
        "default".into()
    } else if r.len == max {
        r.dst.to_string()
    } else {
        format!("{}/{}", r.dst, r.len)
    }
}

fn route_type(r: &Route) -> Option<&'static str> {
    match r.kind {
        proto::RTN_UNICAST => None,
        proto::RTN_LOCAL => Some("local"),
        _ => Some("unknown"),
    }
}

fn protocol_name(p: u8) -> String {
    match p {
        proto::RTPROT_KERNEL => "kernel".into(),
        proto::RTPROT_BOOT => "boot".into(),
        4 => "static".into(),
        n => n.to_string(),
    }
}

/// `dpip route show`.
pub fn routes(links: &[Link], routes: &[Route], st: Style) -> String {
    if st.json {
        let mut j = Json::new(st.pretty);
        j.start_array();
        for r in routes {
            j.start_object();
            if let Some(t) = route_type(r) {
                j.kv_str("type", t);
            }
            j.kv_str("dst", &route_dst(r));
            if let Some(g) = r.gateway {
                j.kv_str("gateway", &g.to_string());
            }
            j.kv_str("dev", &dev_name(links, r.oif));
            if r.protocol != proto::RTPROT_BOOT {
                j.kv_str("protocol", &protocol_name(r.protocol));
            }
            if r.scope != proto::RT_SCOPE_UNIVERSE {
                j.kv_str("scope", &scope_name(r.scope));
            }
            if let Some(s) = r.prefsrc {
                j.kv_str("prefsrc", &s.to_string());
            }
            if let Some(m) = r.metric {
                j.kv_uint("metric", u64::from(m));
            }
            j.kv_strings("flags", &[]);
            j.end_object();
        }
        j.end_array();
        return j.finish();
    }
    let mut out = String::new();
    for r in routes {
        if let Some(t) = route_type(r) {
            let _ = write!(out, "{t} ");
        }
        let _ = write!(out, "{} ", route_dst(r));
        if let Some(g) = r.gateway {
            let _ = write!(out, "via {g} ");
        }
        let _ = write!(out, "dev {} ", dev_name(links, r.oif));
        if r.protocol != proto::RTPROT_BOOT {
            let _ = write!(out, "proto {} ", protocol_name(r.protocol));
        }
        if r.scope != proto::RT_SCOPE_UNIVERSE {
            let _ = write!(out, "scope {} ", scope_name(r.scope));
        }
        if let Some(s) = r.prefsrc {
            let _ = write!(out, "src {s} ");
        }
        if let Some(m) = r.metric {
            let _ = write!(out, "metric {m} ");
        }
        out.push('\n');
    }
    out
}

fn nud_name(s: u16) -> &'static str {
    match s {
        proto::NUD_INCOMPLETE => "INCOMPLETE",
        proto::NUD_REACHABLE => "REACHABLE",
        proto::NUD_STALE => "STALE",
        proto::NUD_PERMANENT => "PERMANENT",
        _ => "NONE",
    }
}

/// `dpip neigh show`.
pub fn neighs(links: &[Link], neighs: &[Neigh], st: Style) -> String {
    if st.json {
        let mut j = Json::new(st.pretty);
        j.start_array();
        for n in neighs {
            j.start_object();
            j.kv_str("dst", &n.addr.to_string());
            j.kv_str("dev", &dev_name(links, n.index));
            if let Some(m) = n.lladdr {
                j.kv_str("lladdr", &mac(&m));
            }
            j.kv_strings("state", &[nud_name(n.state)]);
            j.end_object();
        }
        j.end_array();
        return j.finish();
    }
    let mut out = String::new();
    for n in neighs {
        let _ = write!(out, "{} dev {} ", n.addr, dev_name(links, n.index));
        if let Some(m) = n.lladdr {
            let _ = write!(out, "lladdr {} ", mac(&m));
        }
        let _ = writeln!(out, "{} ", nud_name(n.state));
    }
    out
}

/// `dpip [-s] stats`: each worker's counters; its drop reasons that counted (every one
/// with `-s`).
pub fn stats(workers: &[WorkerStats], st: Style) -> String {
    if st.json {
        let mut j = Json::new(st.pretty);
        j.start_array();
        for w in workers {
            j.start_object();
            j.kv_uint("worker", u64::from(w.worker));
            j.kv_uint("rx", w.rx);
            j.kv_uint("forwarded", w.forwarded);
            j.kv_uint("local_replies", w.local_replies);
            j.kv_uint("to_kernel", w.to_kernel);
            j.kv_uint("connections", w.connections);
            j.name("drops");
            j.start_object();
            for (name, n) in w.drops.iter().filter(|(_, n)| st.stats > 0 || *n > 0) {
                j.kv_uint(name, *n);
            }
            j.end_object();
            j.end_object();
        }
        j.end_array();
        return j.finish();
    }
    let mut out = String::new();
    for w in workers {
        let _ = writeln!(out, "worker {}:", w.worker);
        let _ = writeln!(
            out,
            "    rx {} forwarded {} local-replies {} to-kernel {} connections {}",
            w.rx, w.forwarded, w.local_replies, w.to_kernel, w.connections
        );
        let shown: Vec<&(String, u64)> = w.drops.iter().filter(|(_, n)| st.stats > 0 || *n > 0).collect();
        let total: u64 = w.drops.iter().map(|(_, n)| n).sum();
        let _ = writeln!(out, "    dropped {total}");
        let width = shown.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, n) in shown {
            let _ = writeln!(out, "        {name:<width$} {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: [0xf6, 0xd1, 0xb3, 0xd6, 0x2e, 0x0b],
            mtu: 1500,
            up: true,
            carrier: true,
            promisc: false,
            speed_mbps: 10000,
            queues: 1,
            stats: proto::LinkStats { rx_packets: 1, rx_bytes: 90, tx_packets: 2, tx_bytes: 200, ..Default::default() },
        }
    }

    #[test]
    fn link_show_as_ip() {
        let l = [link(3, "d0")];
        assert_eq!(
            links(&l, Style::default()),
            "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP mode DEFAULT\n    link/ether f6:d1:b3:d6:2e:0b brd ff:ff:ff:ff:ff:ff\n"
        );
        // the statistics block of `ip -s link show d0` (iproute2 6.1), character for character
        let s = links(&l, Style { stats: 1, ..Style::default() });
        assert!(s.ends_with(
            "    RX:  bytes packets errors dropped  missed   mcast           \n            90       1      0       0       0       0 \n    TX:  bytes packets errors dropped carrier collsns           \n           200       2      0       0       0       0 \n"
        ), "{s}");
        let mut down = link(1, "dpdk0");
        down.carrier = false;
        down.promisc = true;
        assert!(links(&[down.clone()], Style::default()).starts_with("1: dpdk0: <NO-CARRIER,BROADCAST,MULTICAST,PROMISC,UP> mtu 1500 state DOWN mode DEFAULT\n"));
        down.up = false;
        assert!(links(&[down], Style::default()).starts_with("1: dpdk0: <BROADCAST,MULTICAST,PROMISC> mtu 1500 state DOWN"));
        let big = proto::LinkStats { rx_bytes: 123_456_789_012, ..Default::default() };
        let s = links(&[Link { stats: big, ..link(1, "x") }], Style { stats: 1, ..Style::default() });
        assert!(s.contains("    RX:    bytes packets errors dropped  missed   mcast           \n    123456789012       0 "), "{s}");
    }

    #[test]
    fn link_json_as_ip() {
        let l = [link(3, "d0")];
        assert_eq!(
            links(&l, Style { json: true, ..Style::default() }),
            "[{\"ifindex\":3,\"ifname\":\"d0\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"operstate\":\"UP\",\"linkmode\":\"DEFAULT\",\"link_type\":\"ether\",\"address\":\"f6:d1:b3:d6:2e:0b\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\"}]\n"
        );
        let s = links(&l, Style { json: true, stats: 1, ..Style::default() });
        assert!(s.contains(",\"stats64\":{\"rx\":{\"bytes\":90,\"packets\":1,\"errors\":0,\"dropped\":0,\"over_errors\":0,\"multicast\":0,\"missed\":0},\"tx\":{\"bytes\":200,\"packets\":2,\"errors\":0,\"dropped\":0,\"carrier_errors\":0,\"collisions\":0}},\"num_rx_queues\":1,"), "{s}");
    }

    #[test]
    fn addr_show_as_ip() {
        let l = [link(3, "d0")];
        let ad = [
            Addr { index: 3, addr: a("10.90.1.1"), len: 24, scope: 0, sapool: false },
            Addr { index: 3, addr: a("10.90.2.3"), len: 24, scope: 0, sapool: true },
            Addr { index: 3, addr: a("fd00:90::1"), len: 64, scope: 0, sapool: false },
        ];
        assert_eq!(
            addrs(&l, &ad, Style::default(), false),
            "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether f6:d1:b3:d6:2e:0b brd ff:ff:ff:ff:ff:ff\n    inet 10.90.1.1/24 scope global d0\n       valid_lft forever preferred_lft forever\n    inet 10.90.2.3/24 scope global sapool d0\n       valid_lft forever preferred_lft forever\n    inet6 fd00:90::1/64 scope global \n       valid_lft forever preferred_lft forever\n"
        );
        // `ip -4 addr show dev d0`, iproute2 6.1 (less qdisc, group, qlen)
        assert_eq!(
            addrs(&l, &ad[..1], Style::default(), true),
            "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    inet 10.90.1.1/24 scope global d0\n       valid_lft forever preferred_lft forever\n"
        );
        assert!(addrs(&l, &ad[..1], Style { json: true, ..Style::default() }, true).starts_with("[{\"ifindex\":3,\"ifname\":\"d0\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"operstate\":\"UP\",\"addr_info\":[{"));
        let j = addrs(&l, &ad[..2], Style { json: true, pretty: true, ..Style::default() }, false);
        assert!(j.contains("        \"addr_info\": [ {\n                \"family\": \"inet\",\n                \"local\": \"10.90.1.1\",\n                \"prefixlen\": 24,\n                \"scope\": \"global\",\n                \"label\": \"d0\",\n                \"valid_life_time\": 4294967295,\n                \"preferred_life_time\": 4294967295\n            },{\n"), "{j}");
        assert!(j.contains("\"scope\": \"global\",\n                \"sapool\": true,\n                \"label\": \"d0\""), "{j}");
    }

    fn sample_routes() -> Vec<Route> {
        let mut def = Route::new(a("0.0.0.0"), 0);
        def.gateway = Some(a("10.90.1.254"));
        def.oif = 3;
        let mut r2 = Route::new(a("10.2.0.0"), 16);
        r2.gateway = Some(a("10.90.1.254"));
        r2.oif = 3;
        r2.prefsrc = Some(a("10.90.1.1"));
        r2.metric = Some(5);
        let mut conn = Route::new(a("10.90.1.0"), 24);
        conn.oif = 3;
        conn.protocol = proto::RTPROT_KERNEL;
        conn.scope = proto::RT_SCOPE_LINK;
        conn.prefsrc = Some(a("10.90.1.1"));
        let mut local = Route::new(a("10.90.1.1"), 32);
        local.oif = 3;
        local.kind = proto::RTN_LOCAL;
        local.table = proto::RT_TABLE_LOCAL;
        local.protocol = proto::RTPROT_KERNEL;
        local.scope = proto::RT_SCOPE_HOST;
        local.prefsrc = Some(a("10.90.1.1"));
        vec![def, r2, conn, local]
    }

    #[test]
    fn route_show_as_ip() {
        let l = [link(3, "d0")];
        // `ip route` / `ip route show table local` of iproute2 6.1 for the same routes
        assert_eq!(
            routes(&l, &sample_routes(), Style::default()),
            "default via 10.90.1.254 dev d0 \n10.2.0.0/16 via 10.90.1.254 dev d0 src 10.90.1.1 metric 5 \n10.90.1.0/24 dev d0 proto kernel scope link src 10.90.1.1 \nlocal 10.90.1.1 dev d0 proto kernel scope host src 10.90.1.1 \n"
        );
        assert_eq!(
            routes(&l, &sample_routes()[..3], Style { json: true, ..Style::default() }),
            "[{\"dst\":\"default\",\"gateway\":\"10.90.1.254\",\"dev\":\"d0\",\"flags\":[]},{\"dst\":\"10.2.0.0/16\",\"gateway\":\"10.90.1.254\",\"dev\":\"d0\",\"prefsrc\":\"10.90.1.1\",\"metric\":5,\"flags\":[]},{\"dst\":\"10.90.1.0/24\",\"dev\":\"d0\",\"protocol\":\"kernel\",\"scope\":\"link\",\"prefsrc\":\"10.90.1.1\",\"flags\":[]}]\n"
        );
        assert!(routes(&l, &sample_routes()[3..], Style { json: true, ..Style::default() }).starts_with("[{\"type\":\"local\",\"dst\":\"10.90.1.1\","));
    }

    #[test]
    fn neigh_show_as_ip() {
        let l = [link(3, "d0")];
        let n = [
            Neigh { index: 3, addr: a("10.90.1.254"), lladdr: Some([2, 0, 0, 0, 0, 1]), state: proto::NUD_PERMANENT },
            Neigh { index: 3, addr: a("fd00:90::fe"), lladdr: Some([2, 0, 0, 0, 0, 2]), state: proto::NUD_REACHABLE },
            Neigh { index: 9, addr: a("10.90.1.7"), lladdr: None, state: proto::NUD_INCOMPLETE },
        ];
        assert_eq!(
            neighs(&l, &n, Style::default()),
            "10.90.1.254 dev d0 lladdr 02:00:00:00:00:01 PERMANENT \nfd00:90::fe dev d0 lladdr 02:00:00:00:00:02 REACHABLE \n10.90.1.7 dev if9 INCOMPLETE \n"
        );
        assert_eq!(
            neighs(&l, &n[..1], Style { json: true, ..Style::default() }),
            "[{\"dst\":\"10.90.1.254\",\"dev\":\"d0\",\"lladdr\":\"02:00:00:00:00:01\",\"state\":[\"PERMANENT\"]}]\n"
        );
    }

    #[test]
    fn stats_show_every_reason_with_s() {
        let w = [WorkerStats {
            worker: 0,
            rx: 10,
            forwarded: 7,
            local_replies: 1,
            to_kernel: 0,
            connections: 2,
            drops: vec![("no-route".into(), 2), ("bad-checksum".into(), 0)],
        }];
        assert_eq!(
            stats(&w, Style::default()),
            "worker 0:\n    rx 10 forwarded 7 local-replies 1 to-kernel 0 connections 2\n    dropped 2\n        no-route 2\n"
        );
        assert_eq!(
            stats(&w, Style { stats: 1, ..Style::default() }),
            "worker 0:\n    rx 10 forwarded 7 local-replies 1 to-kernel 0 connections 2\n    dropped 2\n        no-route     2\n        bad-checksum 0\n"
        );
        assert_eq!(
            stats(&w, Style { stats: 1, json: true, ..Style::default() }),
            "[{\"worker\":0,\"rx\":10,\"forwarded\":7,\"local_replies\":1,\"to_kernel\":0,\"connections\":2,\"drops\":{\"no-route\":2,\"bad-checksum\":0}}]\n"
        );
    }
}
