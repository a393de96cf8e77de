//! Debian's unmodified ipvsadm 1.31, through the LD_PRELOAD shim, against a real dpvsd.
//!
//! Every expected stdout/stderr/exit status is derived from ipvsadm 1.31's source (its printf
//! formats, `fail()` messages, `ipvs_strerror()` table and exit codes: 255 when the "kernel"
//! refuses, 2 for usage errors, 1 for listing errors) and from the kernel's semantics in
//! `net/netfilter/ipvs/ip_vs_ctl.c` / `ip_vs_sync.c`, since the kernel here has no IPVS to
//! record them from. Each case runs against its own fresh dpvsd.
//!
//! Addresses are documentation ranges (192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32); nothing
//! here sends a packet, it only configures dpvsd's tables.

use dpvs_e2e::text::{self, *};
use dpvs_e2e::{run_cases, skip, Case, Dpvsd};

/// `text::listing` over any mix of `&str` and `String` lines.
macro_rules! listing {
    ($($l:expr),* $(,)?) => { text::listing(&[$(String::from($l)),*] as &[String]) };
}
/// `text::single` (ipvsadm -L -t svc: no version line) over any mix of lines.
macro_rules! single {
    ($($l:expr),* $(,)?) => { text::single(&[$(String::from($l)),*] as &[String]) };
}
/// Lines, each ended by "\n".
macro_rules! lines {
    ($($l:expr),* $(,)?) => { text::lines(&[$(String::from($l)),*] as &[String]) };
}

// ipvs_strerror() (libipvs/libipvs.c), keyed by the libipvs function and the kernel's errno;
// anything not in its table is strerror(errno).
/// ipvs_add_service + EEXIST.
const SVC_EXISTS: &str = "Service already exists\n";
/// ipvs_update_service / ipvs_del_service / ipvs_zero_service / ipvs_get_service + ESRCH.
const NO_SVC: &str = "No such service\n";
/// ipvs_add_dest / ipvs_update_dest / ipvs_del_dest + ESRCH.
const SVC_NOT_DEFINED: &str = "Service not defined\n";
/// ipvs_add_dest + EEXIST.
const DEST_EXISTS: &str = "Destination already exists\n";
/// ipvs_update_dest / ipvs_del_dest + ENOENT.
const NO_DEST: &str = "No such destination\n";
/// ipvs_add_service / ipvs_update_service + ENOENT.
const NOT_FOUND: &str = "Scheduler or persistence engine not found\n";
/// Any function + EINVAL.
const EINVAL: &str = "Invalid operation.  Possibly wrong module version, address not unicast, ...\n";
/// Not in the table: strerror(ERANGE).
const ERANGE: &str = "Numerical result out of range\n";
/// ipvs_start_daemon + EEXIST.
const DAEMON_RUNNING: &str = "Daemon has already run\n";
/// ipvs_stop_daemon + ESRCH.
const NO_DAEMON: &str = "No daemon is running\n";
/// Not in the table: strerror(ENODEV).
const ENODEV: &str = "No such device\n";

/// `ipvsadm -Ln` of an empty table.
fn empty() -> String {
    listing![]
}

#[test]
fn services() {
    run_cases(&[
        Case::new("add TCP service, default scheduler wlc")
            .ok("-A -t 192.0.2.1:80")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wlc"]),
        Case::new("add UDP service")
            .ok("-A -u 192.0.2.2:53 -s rr")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.2:53 rr"]),
        Case::new("add SCTP service (--sctp-service)")
            .ok("-A --sctp-service 192.0.2.3:9999 -s rr")
            .run("-Ln")
            .out(listing!["SCTP 192.0.2.3:9999 rr"]),
        Case::new("long option names")
            .ok("--add-service --tcp-service 192.0.2.1:80 --scheduler rr")
            .ok("--add-server --tcp-service 192.0.2.1:80 --real-server 198.51.100.10:80 --masquerading --weight 2")
            .run("--list --numeric")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 2)]),
        Case::new("fwmark service")
            .ok("-A -f 7 -s rr")
            .run("-Ln")
            .out(listing!["FWM  7 rr"]),
        Case::new("IPv6 fwmark service (-6 after -f)")
            .ok("-A -f 8 -6 -s rr")
            .run("-Ln")
            .out(listing!["FWM  8 IPv6 rr"]),
        // fail(2, "-6 used before -f\n") adds its own "\n" after the message.
        Case::new("-6 before -f is refused by ipvsadm")
            .run("-A -6 -f 8")
            .fails("-6 used before -f\n\n", 2),
        Case::new("IPv6 service")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .run("-Ln")
            .out(listing!["TCP  [2001:db8::1]:80 rr"]),
        Case::new("service port given by name (/etc/services)")
            .ok("-A -t 192.0.2.1:http -s rr")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // parse_timeout(NULL) = IPVS_SVC_PERSISTENT_TIMEOUT, 6*60 (libipvs.h).
        Case::new("persistent, default timeout 360")
            .ok("-A -t 192.0.2.1:80 -s rr -p")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr persistent 360"]),
        Case::new("persistent with timeout and netmask")
            .ok("-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr persistent 600 mask 255.255.255.0"]),
        // print_service_entry prints the mask only inside the persistent branch.
        Case::new("netmask without persistence is not shown")
            .ok("-A -t 192.0.2.1:80 -s rr -M 255.255.0.0")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // The kernel stores the netmask as given (no contiguity check).
        Case::new("unusual IPv4 netmasks are stored as given")
            .ok("-A -t 192.0.2.1:80 -s rr -p -M 0.0.0.0")
            .ok("-A -t 192.0.2.1:81 -s rr -p -M 255.0.255.0")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr persistent 360 mask 0.0.0.0",
                "TCP  192.0.2.1:81 rr persistent 360 mask 255.0.255.0",
            ]),
        Case::new("persistence timeout of 31 days")
            .ok("-A -t 192.0.2.1:80 -s rr -p 2678400")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr persistent 2678400"]),
        Case::new("IPv6 persistent with a prefix length")
            .ok("-A -t [2001:db8::1]:443 -s rr -p 120 -M 64")
            .run("-Ln")
            .out(listing!["TCP  [2001:db8::1]:443 rr persistent 120 mask 64"]),
        Case::new("IPv6 persistent without -M: /128 is not shown")
            .ok("-A -t [2001:db8::2]:80 -s rr -p")
            .run("-Ln")
            .out(listing!["TCP  [2001:db8::2]:80 rr persistent 360"]),
        Case::new("persistent fwmark services with masks")
            .ok("-A -f 7 -s rr -p -M 255.255.255.0")
            .ok("-A -f 8 -6 -s rr -p 60 -M 64")
            .ok("-A -f 9 -6 -s rr -p")
            .run("-Ln")
            .out(listing![
                "FWM  7 rr persistent 360 mask 255.255.255.0",
                "FWM  8 IPv6 rr persistent 60 mask 64",
                "FWM  9 IPv6 rr persistent 360",
            ])
            .run("-S -n")
            .out(lines![
                "-A -f 7 -s rr -p 360 -M 255.255.255.0",
                "-A -f 8 -6 -s rr -p 60 -M 64",
                "-A -f 9 -6 -s rr -p 360",
            ]),
        // -L prints the engine inside the persistent branch only; -S prints it always.
        Case::new("persistence engine without persistence")
            .ok("-A -u 192.0.2.4:5060 -s rr --pe sip")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.4:5060 rr"])
            .run("-S -n")
            .out("-A -u 192.0.2.4:5060 -s rr --pe sip\n"),
        Case::new("SCTP service with dests")
            .ok("-A --sctp-service 192.0.2.3:9999 -s rr")
            .ok("-a --sctp-service 192.0.2.3:9999 -r 198.51.100.10 -m")
            .ok("-a --sctp-service 192.0.2.3:9999 -r 198.51.100.11:3868 -m -w 4")
            .run("-Ln")
            .out(listing![
                "SCTP 192.0.2.3:9999 rr",
                dest("198.51.100.10:9999", "Masq", 1),
                dest("198.51.100.11:3868", "Masq", 4),
            ]),
        Case::new("IPv6 prefix length out of range")
            .run("-A -t [2001:db8::1]:443 -p -M 129")
            .fails("illegal ipv6 netmask specified\n", 2),
        Case::new("bad IPv4 netmask")
            .run("-A -t 192.0.2.1:80 -p -M 255.255.255.300")
            .fails("illegal virtual server persistent mask specified\n", 2),
        // MAX_TIMEOUT is 86400*31.
        Case::new("persistence timeout 0")
            .run("-A -t 192.0.2.1:80 -p 0")
            .fails("invalid timeout value `0' specified\n", 2),
        Case::new("persistence timeout above 31 days")
            .run("-A -t 192.0.2.1:80 -p 2678401")
            .fails("invalid timeout value `2678401' specified\n", 2),
        Case::new("zero port needs persistence")
            .run("-A -t 192.0.2.1:0 -s rr")
            .fails("Zero port specified for non-persistent service\n", 2)
            .run("-A -t 192.0.2.1 -s rr")
            .fails("Zero port specified for non-persistent service\n", 2)
            .run("-Ln")
            .out(empty()),
        Case::new("zero port with persistence")
            .ok("-A -t 192.0.2.1 -s rr -p")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:0 rr persistent 360"]),
        Case::new("persistence engine sip")
            .ok("-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.4:5060 rr persistent 60 pe sip"]),
        Case::new("unknown persistence engine: ENOENT")
            .run("-A -u 192.0.2.4:5060 -s rr -p --pe nosuch")
            .fails(NOT_FOUND, 255)
            .run("-Ln")
            .out(empty()),
        Case::new("one-packet scheduling on UDP")
            .ok("-A -u 192.0.2.2:53 -s rr -o")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.2:53 rr ops"]),
        Case::new("one-packet scheduling on fwmark")
            .ok("-A -f 9 -s rr -o")
            .run("-Ln")
            .out(listing!["FWM  9 rr ops"]),
        Case::new("one-packet scheduling refused for TCP")
            .run("-A -t 192.0.2.1:80 -o")
            .fails("One-Packet Scheduling is only for UDP virtual services\n", 2),
        // Order in print_service_entry: sched, (flags), persistent N, mask, pe, ops.
        Case::new("flags, persistence and ops together")
            .ok("-A -u 192.0.2.2:53 -s sh -b sh-port -p 30 -o")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.2:53 sh (sh-port) persistent 30 ops"]),
        Case::new("add existing service: EEXIST")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-A -t 192.0.2.1:80 -s wrr")
            .fails(SVC_EXISTS, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // ip_vs_genl_set_cmd answers EEXIST before ip_vs_add_service looks the scheduler up.
        Case::new("add existing service with unknown scheduler: EEXIST first")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-A -t 192.0.2.1:80 -s nosuch")
            .fails(SVC_EXISTS, 255),
        Case::new("same address and port, other protocol: another service")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-A -u 192.0.2.1:80 -s rr")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", "UDP  192.0.2.1:80 rr"]),
        // ipvsadm sends the whole service with flags mask ~0: -E replaces flags, timeout, pe.
        Case::new("edit service: scheduler changed, persistence dropped, dests kept")
            .ok("-A -t 192.0.2.1:80 -s rr -p 600")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 2")
            .ok("-E -t 192.0.2.1:80 -s wrr")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wrr", dest("198.51.100.10:80", "Masq", 2)]),
        Case::new("edit service: persistence, mask and flags added")
            .ok("-A -t 192.0.2.1:80 -s sh")
            .ok("-E -t 192.0.2.1:80 -s sh -b sh-fallback -p 60 -M 255.255.255.0")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh (sh-fallback) persistent 60 mask 255.255.255.0"]),
        Case::new("edit service: default scheduler is wlc again")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-E -t 192.0.2.1:80")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wlc"]),
        Case::new("edit service to scheduler none")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-E -t 192.0.2.1:80 -s none")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 none", dest("198.51.100.10:80", "Masq", 1)]),
        Case::new("edit missing service: ESRCH")
            .run("-E -t 192.0.2.1:80 -s rr")
            .fails(NO_SVC, 255),
        Case::new("edit with unknown scheduler: ENOENT, service unchanged")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-E -t 192.0.2.1:80 -s nosuch")
            .fails(NOT_FOUND, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        Case::new("edit with unknown persistence engine: ENOENT")
            .ok("-A -u 192.0.2.4:5060 -s rr -p")
            .run("-E -u 192.0.2.4:5060 -s rr -p --pe nosuch")
            .fails(NOT_FOUND, 255)
            .run("-Ln")
            .out(listing!["UDP  192.0.2.4:5060 rr persistent 360"]),
        Case::new("edit without --pe drops the persistence engine")
            .ok("-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip")
            .ok("-E -u 192.0.2.4:5060 -s rr -p 60")
            .run("-Ln")
            .out(listing!["UDP  192.0.2.4:5060 rr persistent 60"]),
        Case::new("delete service with its dests")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-D -t 192.0.2.1:80")
            .run("-Ln")
            .out(empty()),
        Case::new("delete missing service: ESRCH")
            .run("-D -t 192.0.2.1:80")
            .fails(NO_SVC, 255),
        Case::new("delete: the protocol is part of the key")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-D -u 192.0.2.1:80")
            .fails(NO_SVC, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        Case::new("delete fwmark service")
            .ok("-A -f 7 -s rr")
            .ok("-D -f 7")
            .run("-Ln")
            .out(empty()),
        // The kernel finds fwmark services by (af, fwmark).
        Case::new("delete IPv6 fwmark service needs -6")
            .ok("-A -f 8 -6 -s rr")
            .run("-D -f 8")
            .fails(NO_SVC, 255)
            .ok("-D -f 8 -6")
            .run("-Ln")
            .out(empty()),
    ]);
}

#[test]
fn schedulers() {
    let all = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
    ];
    let mut every = Case::new("every scheduler of the kernel");
    let mut lines = Vec::new();
    for (i, s) in all.iter().enumerate() {
        let port = 8001 + i;
        every = every.ok(format!("-A -t 192.0.2.1:{port} -s {s}"));
        lines.push(format!("TCP  192.0.2.1:{port} {s}"));
    }
    every = every.run("-Ln").out(text::listing(&lines));

    run_cases(&[
        every,
        // ip_vs_add_service skips the lookup for "none"; the dump then names it "none".
        Case::new("scheduler none")
            .ok("-A -t 192.0.2.1:80 -s none")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 none"]),
        Case::new("unknown scheduler: ENOENT")
            .run("-A -t 192.0.2.1:80 -s nosuch")
            .fails(NOT_FOUND, 255)
            .run("-Ln")
            .out(empty()),
        Case::new("sh flags")
            .ok("-A -t 192.0.2.1:80 -s sh -b sh-fallback,sh-port")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh (sh-fallback,sh-port)"]),
        Case::new("sh-port alone")
            .ok("-A -t 192.0.2.1:80 -s sh -b sh-port")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh (sh-port)"]),
        Case::new("mh flags")
            .ok("-A -t 192.0.2.1:80 -s mh -b mh-fallback,mh-port")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 mh (mh-fallback,mh-port)"]),
        Case::new("mh-port alone")
            .ok("-A -t 192.0.2.1:80 -s mh -b mh-port")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 mh (mh-port)"]),
        Case::new("flag-1..3 on rr")
            .ok("-A -t 192.0.2.1:80 -s rr -b flag-1,flag-2,flag-3")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr (flag-1,flag-2,flag-3)"]),
        Case::new("flag-2 with the default scheduler")
            .ok("-A -t 192.0.2.1:80 -b flag-2")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wlc (flag-2)"]),
        // SCHED1 is sh-fallback: print_sched_flags names the bits after the scheduler.
        Case::new("flag-1 on sh is sh-fallback")
            .ok("-A -t 192.0.2.1:80 -s sh -b flag-1")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh (sh-fallback)"]),
        // SCHED3 set: " (" and ")" are printed, but print_sched_flags has no name for it on sh.
        Case::new("flag-3 on sh prints empty parentheses")
            .ok("-A -t 192.0.2.1:80 -s sh -b flag-3")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh ()"]),
        // parse_sched_flags runs after all options, so -b may come before -s.
        Case::new("-b before -s")
            .ok("-A -t 192.0.2.1:80 -b sh-port -s sh")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 sh (sh-port)"]),
        Case::new("-E with flags only: scheduler back to wlc")
            .ok("-A -t 192.0.2.1:80 -s sh -b sh-port")
            .ok("-E -t 192.0.2.1:80 -b flag-1")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wlc (flag-1)"]),
        Case::new("sh flag with another scheduler")
            .run("-A -t 192.0.2.1:80 -s rr -b sh-fallback")
            .fails("incompatible scheduler flag `sh-fallback'\n", 2),
        Case::new("mh flag with sh")
            .run("-A -t 192.0.2.1:80 -s sh -b mh-port")
            .fails("incompatible scheduler flag `mh-port'\n", 2),
        Case::new("unknown scheduler flag")
            .run("-A -t 192.0.2.1:80 -s sh -b bogus")
            .fails("invalid scheduler flag `bogus'\n", 2),
    ]);
}

#[test]
fn dests() {
    run_cases(&[
        // process_options: ce.dest.conn_flags = IP_VS_CONN_F_DROUTE, weight 1.
        Case::new("default forwarding is direct routing, weight 1")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Route", 1)]),
        Case::new("every forwarding switch")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -g")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11 -i")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.12 -m")
            .ok("--add-server -t 192.0.2.1:80 -r 198.51.100.13 --gatewaying")
            .ok("--add-server -t 192.0.2.1:80 -r 198.51.100.14 --ipip")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.10:80", "Route", 1),
                dest("198.51.100.11:80", "Tunnel", 1),
                dest("198.51.100.12:80", "Masq", 1),
                dest("198.51.100.13:80", "Route", 1),
                dest("198.51.100.14:80", "Tunnel", 1),
            ]),
        // A literal line, trailing spaces included, to pin the helper down.
        Case::new("dest line is byte-exact")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2")
            .run("-Ln")
            .out(format!(
                "{VERSION}{TITLE}TCP  192.0.2.1:80 rr\n  -> 198.51.100.10:8080           Masq    2      0          0         \n"
            )),
        // process_options forces dest port = service port for TUNNEL and DROUTE.
        Case::new("DR and TUN dest ports are forced to the service port, NAT keeps its own")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -g")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11:8080 -i")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.12:8080 -m")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.10:80", "Route", 1),
                dest("198.51.100.11:80", "Tunnel", 1),
                dest("198.51.100.12:8080", "Masq", 1),
            ]),
        Case::new("NAT dest without a port takes the service port")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 1)]),
        Case::new("fwmark dests keep their port (0 when omitted)")
            .ok("-A -f 7 -s rr")
            .ok("-a -f 7 -r 198.51.100.10 -g")
            .ok("-a -f 7 -r 198.51.100.11:8080 -g")
            .run("-Ln")
            .out(listing![
                "FWM  7 rr",
                dest("198.51.100.10:0", "Route", 1),
                dest("198.51.100.11:8080", "Route", 1),
            ]),
        Case::new("weights 0 and INT_MAX")
            .ok("-A -t 192.0.2.1:80 -s wrr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 0")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11 -m -w 2147483647")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 wrr",
                dest("198.51.100.10:80", "Masq", 0),
                dest("198.51.100.11:80", "Masq", 2147483647),
            ]),
        // Debian's patch (changelog 1:1.29-1, #814348) raised ipvsadm's limit from 65535.
        Case::new("Debian's ipvsadm accepts weights above 65535")
            .ok("-A -t 192.0.2.1:80 -s wrr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 65536")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 wrr", dest("198.51.100.10:80", "Masq", 65536)]),
        Case::new("illegal weights")
            .ok("-A -t 192.0.2.1:80 -s wrr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 2147483648")
            .fails("illegal weight specified\n", 2)
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w abc")
            .fails("illegal weight specified\n", 2),
        Case::new("thresholds")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -x 100 -y 50")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11 -m -x 10 -y 10")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.12 -m -x 2147483647")
            .run("-Ln --thresholds")
            .out(format!(
                "{VERSION}{}{}",
                title_thresholds(),
                lines![
                    "TCP  192.0.2.1:80 rr",
                    dest_thresholds("198.51.100.10:80", 100, 50),
                    dest_thresholds("198.51.100.11:80", 10, 10),
                    dest_thresholds("198.51.100.12:80", 2147483647, 0),
                ]
            )),
        // ip_vs_add_dest: l_threshold > u_threshold -> ERANGE (u_threshold 0 included).
        Case::new("lower threshold above upper: ERANGE")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -x 10 -y 20")
            .fails(ERANGE, 255)
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -y 5")
            .fails(ERANGE, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        Case::new("illegal thresholds")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -x 2147483648")
            .fails("illegal u_threshold specified\n", 2)
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -y abc")
            .fails("illegal l_threshold specified\n", 2),
        Case::new("add existing dest: EEXIST")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 5")
            .fails(DEST_EXISTS, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 1)]),
        Case::new("add existing dest through the forced DR port: EEXIST")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -g")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -g")
            .fails(DEST_EXISTS, 255),
        Case::new("same address, other port: another dest")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:80 -m")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.10:80", "Masq", 1),
                dest("198.51.100.10:8080", "Masq", 1),
            ]),
        Case::new("add dest to missing service: ESRCH")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .fails(SVC_NOT_DEFINED, 255),
        // -e sends the whole dest: anything not given takes ipvsadm's defaults again.
        Case::new("edit dest: method, weight and thresholds replaced")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 5 -x 100 -y 10")
            .ok("-e -t 192.0.2.1:80 -r 198.51.100.10 -g -w 3")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Route", 3)])
            .run("-Ln --thresholds")
            .out(format!(
                "{VERSION}{}{}",
                title_thresholds(),
                lines!["TCP  192.0.2.1:80 rr", dest_thresholds("198.51.100.10:80", 0, 0)]
            )),
        Case::new("edit dest with no options: DR, weight 1")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 5")
            .ok("--edit-server -t 192.0.2.1:80 -r 198.51.100.10")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Route", 1)]),
        Case::new("edit dest to weight 0 (quiesce)")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -g -w 5")
            .ok("-e -t 192.0.2.1:80 -r 198.51.100.10 -g -w 0")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Route", 0)]),
        Case::new("edit missing dest: ENOENT")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-e -t 192.0.2.1:80 -r 198.51.100.11 -m")
            .fails(NO_DEST, 255),
        Case::new("edit dest of missing service: ESRCH")
            .run("-e -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .fails(SVC_NOT_DEFINED, 255),
        Case::new("edit dest with lower threshold above upper: ERANGE")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-e -t 192.0.2.1:80 -r 198.51.100.10 -m -x 1 -y 2")
            .fails(ERANGE, 255),
        Case::new("delete dest")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11")
            .ok("-d -t 192.0.2.1:80 -r 198.51.100.10")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.11:80", "Route", 1)]),
        // The port forcing applies to -a and -e only, so -d reaches a NAT dest on another port.
        Case::new("delete NAT dest on another port")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m")
            .ok("--delete-server -t 192.0.2.1:80 -r 198.51.100.10:8080")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        Case::new("delete dest: the port is part of the key")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m")
            .run("-d -t 192.0.2.1:80 -r 198.51.100.10")
            .fails(NO_DEST, 255),
        Case::new("delete missing dest: ENOENT")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-d -t 192.0.2.1:80 -r 198.51.100.10")
            .fails(NO_DEST, 255),
        Case::new("delete dest of missing service: ESRCH")
            .run("-d -t 192.0.2.1:80 -r 198.51.100.10")
            .fails(SVC_NOT_DEFINED, 255),
        // ip_vs_new_dest: inet_addr_type must be RTN_UNICAST or RTN_LOCAL, else EINVAL.
        Case::new("IPv4 dest not unicast: EINVAL")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 0.0.0.0 -m")
            .fails(EINVAL, 255)
            .run("-a -t 192.0.2.1:80 -r 224.0.0.1 -m")
            .fails(EINVAL, 255)
            .run("-a -t 192.0.2.1:80 -r 255.255.255.255 -m")
            .fails(EINVAL, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // ip_vs_new_dest: IPv6 must be unicast and not link-local (unless local).
        Case::new("IPv6 dest not unicast or link-local: EINVAL")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .run("-a -t [2001:db8::1]:80 -r [ff02::1]:80 -m")
            .fails(EINVAL, 255)
            .run("-a -t [2001:db8::1]:80 -r [fe80::1]:80 -m")
            .fails(EINVAL, 255)
            .run("-a -t [2001:db8::1]:80 -r [::]:80 -m")
            .fails(EINVAL, 255),
        Case::new("IPv6 dests, sorted by address then port")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .ok("-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m")
            .ok("-a -t [2001:db8::1]:80 -r [2001:db8::9]:8080 -m -w 2")
            .ok("-a -t [2001:db8::1]:80 -r [2001:db8::10]:79 -m")
            .run("-Ln")
            .out(listing![
                "TCP  [2001:db8::1]:80 rr",
                dest("[2001:db8::9]:8080", "Masq", 2),
                dest("[2001:db8::10]:79", "Masq", 1),
                dest("[2001:db8::10]:80", "Masq", 1),
            ]),
        Case::new("other address family needs tunnelling (ipvsadm)")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r [2001:db8::10]:80 -m")
            .fails("Different address family is allowed only for tunneling servers\n", 2),
        // parse_service: "[addr]" needs ":port" after the bracket; a bare IPv6 address takes
        // the service port; a tunnel dest's port is forced to the service port anyway.
        Case::new("IPv6 tunnel dests on an IPv4 service")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 2001:db8::10 -i")
            .ok("-a -t 192.0.2.1:80 -r [2001:db8::11]:8080 -i -w 2")
            .run("-a -t 192.0.2.1:80 -r [2001:db8::12] -i")
            .fails("illegal real server address[:port] specified\n", 2)
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("[2001:db8::10]:80", "Tunnel", 1),
                dest("[2001:db8::11]:80", "Tunnel", 2),
            ]),
        // ip_vs_genl_set_cmd: mixed family dests are EINVAL while a sync daemon runs.
        Case::new("mixed-family dest refused while a sync daemon runs: EINVAL")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("--start-daemon master --mcast-interface lo")
            .run("-a -t 192.0.2.1:80 -r 2001:db8::10 -i")
            .fails(EINVAL, 255),
        Case::new("IPv4 tunnel dest on an IPv6 service")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .ok("-a -t [2001:db8::1]:80 -r 198.51.100.10:8080 -i")
            .ok("-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m")
            .run("-Ln")
            .out(listing![
                "TCP  [2001:db8::1]:80 rr",
                dest("198.51.100.10:80", "Tunnel", 1),
                dest("[2001:db8::10]:80", "Masq", 1),
            ]),
        // ip_vs_genl_new_daemon: mixed_address_family_dests > 0 -> EINVAL; deleting the
        // mixed dest (ip_vs_del_dest -> __ip_vs_unlink_dest) lifts it.
        Case::new("sync daemon refused while mixed-family dests exist: EINVAL")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 2001:db8::10 -i")
            .run("--start-daemon master --mcast-interface lo")
            .fails(EINVAL, 255)
            .run("-L --daemon")
            .ok("-d -t 192.0.2.1:80 -r [2001:db8::10]:80")
            .ok("--start-daemon master --mcast-interface lo")
            .run("-L --daemon")
            .out(daemon("master", "lo", 0, 1472, "224.0.0.81", 8848, 1)),
        Case::new("IPv6 fwmark service dests")
            .ok("-A -f 8 -6 -s rr")
            .ok("-a -f 8 -6 -r 2001:db8::10 -g")
            .ok("-a -f 8 -6 -r [2001:db8::11]:8080 -m -w 2")
            .run("-a -f 8 -6 -r 198.51.100.10 -g")
            .fails("Different address family is allowed only for tunneling servers\n", 2)
            .run("-a -f 8 -r 198.51.100.10 -g")
            .fails(SVC_NOT_DEFINED, 255)
            .run("-Ln")
            .out(listing![
                "FWM  8 IPv6 rr",
                dest("[2001:db8::10]:0", "Route", 1),
                dest("[2001:db8::11]:8080", "Masq", 2),
            ]),
        Case::new("dests of a port-0 persistent service")
            .ok("-A -t 192.0.2.1 -s rr -p")
            .ok("-a -t 192.0.2.1 -r 198.51.100.10:8080 -g")
            .ok("-a -t 192.0.2.1:0 -r 198.51.100.11:8080 -m")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:0 rr persistent 360",
                dest("198.51.100.10:0", "Route", 1),
                dest("198.51.100.11:8080", "Masq", 1),
            ]),
        // -e forces the DR port like -a does, so it finds the dest on the service port.
        Case::new("edit DR dest named with another port")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -g")
            .ok("-e -t 192.0.2.1:80 -r 198.51.100.10:8080 -g -w 4")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Route", 4)]),
        Case::new("illegal real server address")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.300")
            .fails("illegal real server address[:port] specified\n", 2),
        Case::new("-a without -r")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -m")
            .fails("You need to supply the 'real-server' option for the 'add-server' command\n", 2),
        // The kernel links new dests at the head of the list (list_add_rcu).
        Case::new("--nosort lists dests newest first")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.30 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.20 -m")
            .run("-Ln --nosort")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.20:80", "Masq", 1),
                dest("198.51.100.30:80", "Masq", 1),
                dest("198.51.100.10:80", "Masq", 1),
            ]),
        // fwd_tun_info: "ipip", "gue:%d:%s", "gre:%s" with tunflags {"-c", "+c", "r+c"}.
        Case::new("tunnel types with --tun-info")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -i")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11 -i --tun-type gue --tun-port 6080 --tun-csum")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.12 -i --tun-type gre --tun-nocsum")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.13 -i --tun-type gue --tun-port 6081 --tun-remcsum")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.14 -m")
            .run("-Ln --tun-info")
            .out(format!(
                "{VERSION}{TITLE_TUN}{}",
                lines![
                    "TCP  192.0.2.1:80 rr",
                    dest_tun("198.51.100.10:80", "Tunnel", "ipip", 1),
                    dest_tun("198.51.100.11:80", "Tunnel", "gue:6080:+c", 1),
                    dest_tun("198.51.100.12:80", "Tunnel", "gre:-c", 1),
                    dest_tun("198.51.100.13:80", "Tunnel", "gue:6081:r+c", 1),
                    dest_tun("198.51.100.14:80", "Masq", "n/a", 1),
                ]
            )),
        Case::new("gue needs --tun-port (ipvsadm)")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -i --tun-type gue")
            .fails("You need to supply the 'tun-port' option for the 'gue' tunnel type\n", 2),
        Case::new("tunnel options with NAT (ipvsadm)")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-a -t 192.0.2.1:80 -r 198.51.100.10 -m --tun-type gre")
            .fails("Tunnel options conflict with forward method\n", 2),
    ]);
}

#[test]
fn list_formats() {
    let stats_title = title_stats();
    run_cases(&[
        Case::new("-Ln of an empty table").run("-Ln").out(empty()),
        Case::new("-ln (lowercase)").run("-ln").out(empty()),
        Case::new("-L -n, separate").run("-L -n").out(empty()),
        // main: argc == 1 -> list_all(FMT_NONE).
        Case::new("no arguments lists the table").run("").out(empty()),
        // Without -n: gethostbyaddr (/etc/hosts: localhost) and getservbyport (/etc/services).
        Case::new("names without -n")
            .ok("-A -t 127.0.0.1:80 -s rr")
            .ok("-a -t 127.0.0.1:80 -r 127.0.0.1:8080 -m")
            .run("-L")
            .out(listing!["TCP  localhost:http rr", dest("localhost:http-alt", "Masq", 1)]),
        Case::new("--stats")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-Ln --stats")
            .out(format!(
                "{VERSION}{stats_title}{}",
                lines![svc_zero_counters("TCP  192.0.2.1:80"), dest_stats_zero("198.51.100.10:80")]
            )),
        // print_largenum with FMT_EXACT: "%*llu" with width 9 for numbers of up to 8 digits.
        Case::new("--stats --exact")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-Ln --stats --exact")
            .out(format!(
                "{VERSION}{stats_title}{}",
                lines![svc_zero_counters("TCP  192.0.2.1:80"), dest_stats_zero("198.51.100.10:80")]
            )),
        Case::new("--rate")
            .ok("-A -u 192.0.2.2:53 -s rr")
            .ok("-a -u 192.0.2.2:53 -r 198.51.100.10 -m")
            .run("-Ln --rate")
            .out(format!(
                "{VERSION}{}{}",
                title_rate(),
                lines![svc_zero_counters("UDP  192.0.2.2:53"), dest_rate_zero("198.51.100.10:53")]
            )),
        Case::new("--stats with fwmark and IPv6 services")
            .ok("-A -f 7 -s rr")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .ok("-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m")
            .run("-Ln --stats")
            .out(format!(
                "{VERSION}{stats_title}{}",
                lines![
                    svc_zero_counters("TCP  [2001:db8::1]:80"),
                    dest_stats_zero("[2001:db8::10]:80"),
                    svc_zero_counters("FWM  7"),
                ]
            )),
        // "%-33s" and "%-28s" pad but never cut an IPv6 name (only IPv4 names are cut).
        Case::new("long IPv6 names are not padded or cut")
            .ok("-A -t [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 -s rr")
            .ok("-a -t [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 -r [2001:db8:1234:5678:9abc:def0:1234:5679]:65535 -m")
            .run("-Ln")
            .out(listing![
                "TCP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535 rr",
                "  -> [2001:db8:1234:5678:9abc:def0:1234:5679]:65535 Masq    1      0          0         ",
            ])
            .run("-Ln --stats")
            .out(format!(
                "{VERSION}{stats_title}{}",
                lines![
                    svc_zero_counters("TCP  [2001:db8:1234:5678:9abc:def0:1234:5678]:65535"),
                    dest_stats_zero("[2001:db8:1234:5678:9abc:def0:1234:5679]:65535"),
                ]
            )),
        Case::new("--persistent-conn")
            .ok("-A -t 192.0.2.1:80 -s rr -p")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m -w 4")
            .run("-Ln --persistent-conn")
            .out(format!(
                "{VERSION}{}{}",
                title_persistent_conn(),
                lines![
                    "TCP  192.0.2.1:80 rr persistent 360",
                    dest_persistent_conn("198.51.100.10:80", 4),
                ]
            )),
        // list_service: title and the one service, no version line.
        // --sort is accepted as a no-op (sorting is the default).
        Case::new("--sort")
            .ok("-A -t 192.0.2.1:81 -s rr")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-L -n --sort")
            .out(listing!["TCP  192.0.2.1:80 rr", "TCP  192.0.2.1:81 rr"]),
        Case::new("-L of one service")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-A -t 192.0.2.1:81 -s wrr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-a -t 192.0.2.1:81 -r 198.51.100.11 -m")
            .run("-Ln -t 192.0.2.1:80")
            .out(single!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 1)]),
        Case::new("-L of one fwmark service")
            .ok("-A -f 7 -s rr")
            .ok("-a -f 7 -r 198.51.100.10 -g")
            .run("-L -n -f 7")
            .out(single!["FWM  7 rr", dest("198.51.100.10:0", "Route", 1)]),
        Case::new("-L of one IPv6 service")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .run("-L -n -t [2001:db8::1]:80")
            .out(single!["TCP  [2001:db8::1]:80 rr"]),
        Case::new("-L of one service with --stats")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-L -n --stats -t 192.0.2.1:80")
            .out(format!("{stats_title}{}", lines![svc_zero_counters("TCP  192.0.2.1:80")])),
        // list_service: ipvs_get_service fails with ESRCH -> message, exit(1).
        Case::new("-L of a missing service: exit 1")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-Ln -t 192.0.2.9:80")
            .fails(NO_SVC, 1),
        // The shim serves /proc/net/ip_vs_conn; no dataplane yet, so no entries.
        Case::new("-Lnc: empty connection table").run("-Lnc").out(text::conn_header()),
        Case::new("-Lnc --persistent-conn")
            .run("-Lnc --persistent-conn")
            .out(text::conn_header_persistent()),
        Case::new("--timeout defaults").run("-L --timeout").out(timeouts(900, 120, 300)),
        Case::new("--daemon with none running").run("-L --daemon"),
        Case::new("list option conflicts")
            .run("-L -n -c --stats")
            .fails("options conflicts in the list command\n", 2)
            .run("-L --timeout --persistent-conn")
            .fails("options conflicts in the list command\n", 2)
            .run("-L --timeout --daemon")
            .fails("The option 'daemon' conflicts with the 'timeout' option in the 'list' command\n", 2)
            .run("-L -c -t 192.0.2.1:80")
            .fails(
                "The option 'service-address' conflicts with the 'connection' option in the 'list' command\n",
                2,
            ),
    ]);
}

#[test]
fn sorting() {
    run_cases(&[
        // ipvs_cmp_services: fwmark, af, protocol, address, port.
        Case::new("-Ln sorts services and dests")
            .ok("-A -f 7 -s rr")
            .ok("-A --sctp-service 192.0.2.1:80 -s rr")
            .ok("-A -t [2001:db8::1]:80 -s rr")
            .ok("-A -u 192.0.2.1:53 -s rr")
            .ok("-A -t 192.0.2.2:80 -s rr")
            .ok("-A -f 3 -s rr")
            .ok("-A -t 192.0.2.1:443 -s rr")
            .ok("-A -f 5 -6 -s rr")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-A -u [2001:db8::1]:53 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.30 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.4:8080 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.20 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.4:80 -m")
            .ok("-a -f 3 -r 198.51.100.9 -g")
            .ok("-a -f 3 -r 198.51.100.8 -g")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.4:80", "Masq", 1),
                dest("198.51.100.4:8080", "Masq", 1),
                dest("198.51.100.20:80", "Masq", 1),
                dest("198.51.100.30:80", "Masq", 1),
                "TCP  192.0.2.1:443 rr",
                "TCP  192.0.2.2:80 rr",
                "UDP  192.0.2.1:53 rr",
                "SCTP 192.0.2.1:80 rr",
                "TCP  [2001:db8::1]:80 rr",
                "UDP  [2001:db8::1]:53 rr",
                "FWM  3 rr",
                dest("198.51.100.8:0", "Route", 1),
                dest("198.51.100.9:0", "Route", 1),
                "FWM  5 IPv6 rr",
                "FWM  7 rr",
            ]),
        // ipvs_cmp_services/ipvs_cmp_dests subtract host-order addresses as unsigned and
        // return the difference as int: 10.0.0.1 - 192.0.2.1 wraps to a positive int, so
        // 192.0.2.1 sorts first.
        Case::new("addresses 2^31 apart sort reversed (int subtraction)")
            .ok("-A -t 10.0.0.1:80 -s rr")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 10.0.0.10 -m")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.10:80", "Masq", 1),
                dest("10.0.0.10:80", "Masq", 1),
                "TCP  10.0.0.1:80 rr",
            ]),
    ]);
}

#[test]
fn set_timeouts() {
    run_cases(&[
        Case::new("default timeouts").run("-L --timeout").out(timeouts(900, 120, 300)),
        Case::new("--set").ok("--set 10 20 30").run("-l --timeout").out(timeouts(10, 20, 30)),
        // ip_vs_set_timeout: a value of 0 leaves that timeout unchanged.
        Case::new("--set with zeros keeps those timeouts")
            .ok("--set 10 20 30")
            .ok("--set 0 0 0")
            .run("-L --timeout")
            .out(timeouts(10, 20, 30))
            .ok("--set 0 50 0")
            .run("-L --timeout")
            .out(timeouts(10, 50, 30)),
        // ip_vs_set_timeout refuses values above INT_MAX / HZ; with Debian's HZ (250) that is
        // above ipvsadm's own limit of 31 days, so the largest ipvsadm accepts goes through.
        Case::new("--set the largest timeouts ipvsadm accepts")
            .ok("--set 2678400 2678400 2678400")
            .run("-L --timeout")
            .out(timeouts(2678400, 2678400, 2678400)),
        Case::new("--set needs three values")
            .run("--set 1 2")
            .fails("--set option requires 3 timeout values\n", 2),
        Case::new("--set value above 31 days")
            .run("--set 2678401 1 1")
            .fails("invalid timeout value `2678401' specified\n", 2)
            .run("--set a 1 1")
            .fails("invalid timeout value `a' specified\n", 2)
            .run("-L --timeout")
            .out(timeouts(900, 120, 300)),
        Case::new("--set with a fourth value")
            .run("--set 1 2 3 4")
            .fails("unexpected argument 4\n", 2),
    ]);
}

#[test]
fn sync_daemons() {
    // start_sync_thread: group 224.0.0.81, port 8848, ttl 1 by default; maxlen for a master is
    // 1500 - headers, for a backup clamp(dev mtu, 1500, 65535) - headers; a given maxlen is
    // clamped to [1 (master) or 1024 (backup), 65535 - headers]; headers 28 (IPv4), 48 (IPv6).
    let bmax = backup_default_maxlen("lo");
    let group = "224.0.0.81";
    // ipvsadm's default interface is DEF_MCAST_IFN, "eth0": whatever this machine has.
    let eth0 = if std::path::Path::new("/sys/class/net/eth0").exists() {
        Case::new("default interface eth0")
            .ok("--start-daemon master")
            .ok("--start-daemon backup --syncid 1")
            .run("-L --daemon")
            .out(format!(
                "{}{}",
                daemon("master", "eth0", 0, 1472, group, 8848, 1),
                daemon("backup", "eth0", 1, backup_default_maxlen("eth0"), group, 8848, 1)
            ))
    } else {
        Case::new("default interface eth0 (absent here): ENODEV")
            .run("--start-daemon master")
            .fails(ENODEV, 255)
    };
    run_cases(&[
        eth0,
        Case::new("IPv6 group: 48 bytes of headers, maxlen clamped to 65535 - 48")
            .ok("--start-daemon backup --mcast-interface lo --mcast-group ff15::81")
            .ok("--start-daemon master --mcast-interface lo --mcast-group ff15::82 --sync-maxlen 65507")
            .run("-L --daemon")
            .out(format!(
                "{}{}",
                daemon("master", "lo", 0, 65487, "ff15::82", 8848, 1),
                daemon("backup", "lo", 0, bmax - 20, "ff15::81", 8848, 1)
            )),
        Case::new("stop and start again with other settings")
            .ok("--start-daemon master --mcast-interface lo --syncid 1")
            .ok("--stop-daemon master")
            .ok("--start-daemon master --mcast-interface lo --syncid 2 --mcast-ttl 5")
            .run("-L --daemon")
            .out(daemon("master", "lo", 2, 1472, group, 8848, 5)),
        Case::new("master")
            .ok("--start-daemon master --mcast-interface lo")
            .run("-L --daemon")
            .out(daemon("master", "lo", 0, 1472, group, 8848, 1)),
        Case::new("backup with syncid")
            .ok("--start-daemon backup --mcast-interface lo --syncid 5")
            .run("-L --daemon")
            .out(daemon("backup", "lo", 5, bmax, group, 8848, 1)),
        Case::new("master and backup: master listed first")
            .ok("--start-daemon backup --mcast-interface lo --syncid 2")
            .ok("--start-daemon master --mcast-interface lo --syncid 1")
            .run("-L --daemon")
            .out(format!(
                "{}{}",
                daemon("master", "lo", 1, 1472, group, 8848, 1),
                daemon("backup", "lo", 2, bmax, group, 8848, 1)
            )),
        Case::new("master already running: EEXIST")
            .ok("--start-daemon master --mcast-interface lo")
            .run("--start-daemon master --mcast-interface lo --syncid 3")
            .fails(DAEMON_RUNNING, 255)
            .run("-L --daemon")
            .out(daemon("master", "lo", 0, 1472, group, 8848, 1)),
        // start_sync_thread looks the interface up before it checks for a running daemon.
        Case::new("unknown interface is ENODEV even when the daemon runs")
            .ok("--start-daemon master --mcast-interface lo")
            .run("--start-daemon master --mcast-interface nosuchif0")
            .fails(ENODEV, 255),
        Case::new("backup already running: EEXIST")
            .ok("--start-daemon backup --mcast-interface lo")
            .run("--start-daemon backup --mcast-interface lo")
            .fails(DAEMON_RUNNING, 255),
        Case::new("stop master then backup")
            .ok("--start-daemon master --mcast-interface lo")
            .ok("--start-daemon backup --mcast-interface lo")
            .ok("--stop-daemon master")
            .run("-L --daemon")
            .out(daemon("backup", "lo", 0, bmax, group, 8848, 1))
            .ok("--stop-daemon backup --syncid 0")
            .run("-L --daemon"),
        Case::new("stop a daemon that is not running: ESRCH")
            .run("--stop-daemon master")
            .fails(NO_DAEMON, 255)
            .run("--stop-daemon backup")
            .fails(NO_DAEMON, 255),
        Case::new("unknown interface: ENODEV")
            .run("--start-daemon master --mcast-interface nosuchif0")
            .fails(ENODEV, 255)
            .run("-L --daemon"),
        Case::new("every daemon option")
            .ok("--start-daemon master --mcast-interface lo --syncid 9 --mcast-group 239.1.2.3 --mcast-port 9999 --mcast-ttl 3 --sync-maxlen 1000")
            .run("-L --daemon")
            .out(daemon("master", "lo", 9, 1000, "239.1.2.3", 9999, 3)),
        Case::new("IPv6 multicast group")
            .ok("--start-daemon master --mcast-interface lo --mcast-group ff15::81")
            .run("-L --daemon")
            .out(daemon("master", "lo", 0, 1452, "ff15::81", 8848, 1)),
        Case::new("sync-maxlen clamped: backup at least 1024, master at least 1")
            .ok("--start-daemon backup --mcast-interface lo --sync-maxlen 100")
            .ok("--start-daemon master --mcast-interface lo --sync-maxlen 100")
            .run("-L --daemon")
            .out(format!(
                "{}{}",
                daemon("master", "lo", 0, 100, group, 8848, 1),
                daemon("backup", "lo", 0, 1024, group, 8848, 1)
            )),
        Case::new("illegal daemon state")
            .run("--start-daemon foo")
            .fails("illegal start-daemon parameter specified\n", 2)
            .run("--stop-daemon foo")
            .fails("illegal start_daemon specified\n", 2),
        Case::new("multicast group that is not multicast (ipvsadm)")
            .run("--start-daemon master --mcast-interface lo --mcast-group 192.0.2.1")
            .fails("invalid IPv4 mcast-group `192.0.2.1'\n", 2)
            .run("--start-daemon master --mcast-interface lo --mcast-group 2001:db8::1")
            .fails("invalid IPv6 mcast-group `2001:db8::1'\n", 2),
        Case::new("syncid out of range")
            .run("--start-daemon master --mcast-interface lo --syncid 256")
            .fails("illegal syncid specified\n", 2),
        Case::new("service option with --start-daemon")
            .run("--start-daemon master -t 192.0.2.1:80")
            .fails("Illegal 'service-address' option with the 'start-daemon' command\n", 2),
    ]);
}

#[test]
fn flush_and_zero() {
    let stats_title = title_stats();
    run_cases(&[
        Case::new("-C flushes every service")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-A -f 7 -s rr")
            .ok("-A -u [2001:db8::1]:53 -s rr")
            .ok("-C")
            .run("-Ln")
            .out(empty()),
        Case::new("--clear on an empty table").ok("--clear").run("-Ln").out(empty()),
        Case::new("-C keeps timeouts and sync daemons")
            .ok("--set 10 20 30")
            .ok("--start-daemon master --mcast-interface lo")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-C")
            .run("-L --timeout")
            .out(timeouts(10, 20, 30))
            .run("-L --daemon")
            .out(daemon("master", "lo", 0, 1472, "224.0.0.81", 8848, 1)),
        Case::new("-Z zeroes everything")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .ok("-Z")
            .run("-Ln --stats")
            .out(format!(
                "{VERSION}{stats_title}{}",
                lines![svc_zero_counters("TCP  192.0.2.1:80"), dest_stats_zero("198.51.100.10:80")]
            )),
        Case::new("-Z on an empty table").ok("--zero"),
        Case::new("-Z of one service")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-A -f 7 -s rr")
            .ok("-Z -t 192.0.2.1:80")
            .ok("-Z -f 7"),
        Case::new("-Z of an IPv6 fwmark service")
            .ok("-A -f 8 -6 -s rr")
            .ok("-Z -f 8 -6")
            .run("-Z -f 8")
            .fails(NO_SVC, 255),
        Case::new("-Z of a missing service: ESRCH")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .run("-Z -t 192.0.2.9:80")
            .fails(NO_SVC, 255)
            .run("-Z -f 99")
            .fails(NO_SVC, 255),
    ]);
}

/// The setup of the save/restore cases, and what `-S -n` prints for it (sorted as -L).
const SAVE_SETUP: &[&str] = &[
    "-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0",
    "-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2",
    "-a -t 192.0.2.1:80 -r 198.51.100.11 -g",
    "-a -t 192.0.2.1:80 -r 198.51.100.12 -i -w 0",
    "-A -u 192.0.2.2:53 -s sh -b sh-fallback,sh-port -o",
    "-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip",
    "-A --sctp-service 192.0.2.3:9999 -s wlc",
    "-A -t [2001:db8::1]:80 -s rr -p 300 -M 64",
    "-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m",
    "-A -f 7 -s wlc",
    "-a -f 7 -r 198.51.100.20 -g",
    "-A -f 8 -6 -s rr",
];

/// print_service_entry with FMT_RULE: "-A %s -s %s", " -p %u", " -M %s", " --pe %s", " -o",
/// " -b flags"; dests "-a %s -r %s %s -w %d" (print_tunnel_rule adds "--tun-type ipip").
const SAVE_OUTPUT: &str = "\
-A -t 192.0.2.1:80 -s rr -p 600 -M 255.255.255.0
-a -t 192.0.2.1:80 -r 198.51.100.10:8080 -m -w 2
-a -t 192.0.2.1:80 -r 198.51.100.11:80 -g -w 1
-a -t 192.0.2.1:80 -r 198.51.100.12:80 -i -w 0 --tun-type ipip
-A -u 192.0.2.2:53 -s sh -o -b sh-fallback,sh-port
-A -u 192.0.2.4:5060 -s rr -p 60 --pe sip
-A --sctp-service 192.0.2.3:9999 -s wlc
-A -t [2001:db8::1]:80 -s rr -p 300 -M 64
-a -t [2001:db8::1]:80 -r [2001:db8::10]:80 -m -w 1
-A -f 7 -s wlc
-a -f 7 -r 198.51.100.20:0 -g -w 1
-A -f 8 -6 -s rr
";

fn save_listing() -> String {
    listing![
        "TCP  192.0.2.1:80 rr persistent 600 mask 255.255.255.0",
        dest("198.51.100.10:8080", "Masq", 2),
        dest("198.51.100.11:80", "Route", 1),
        dest("198.51.100.12:80", "Tunnel", 0),
        "UDP  192.0.2.2:53 sh (sh-fallback,sh-port) ops",
        "UDP  192.0.2.4:5060 rr persistent 60 pe sip",
        "SCTP 192.0.2.3:9999 wlc",
        "TCP  [2001:db8::1]:80 rr persistent 300 mask 64",
        dest("[2001:db8::10]:80", "Masq", 1),
        "FWM  7 wlc",
        dest("198.51.100.20:0", "Route", 1),
        "FWM  8 IPv6 rr",
    ]
}

#[test]
fn save_and_restore() {
    let mut save = Case::new("-S -n prints rules");
    for s in SAVE_SETUP {
        save = save.ok(*s);
    }
    save = save.run("-S -n").out(SAVE_OUTPUT).run("-Ln").out(save_listing());

    let mut restore_saved = Case::new("-R of -S -n's output rebuilds the table");
    restore_saved = restore_saved.run("-R").input(SAVE_OUTPUT).run("-Ln").out(save_listing());

    run_cases(&[
        save,
        restore_saved,
        Case::new("--save -n on an empty table").run("--save -n"),
        Case::new("-S without -n names hosts and ports")
            .ok("-A -t 127.0.0.1:80 -s rr")
            .ok("-a -t 127.0.0.1:80 -r 127.0.0.1:8080 -m")
            .run("-S")
            .out("-A -t localhost:http -s rr\n-a -t localhost:http -r localhost:http-alt -m -w 1\n"),
        Case::new("-S of tunnel dests")
            .ok("-A -t 192.0.2.1:80 -s rr")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.11 -i --tun-type gue --tun-port 6080 --tun-csum")
            .ok("-a -t 192.0.2.1:80 -r 198.51.100.12 -i --tun-type gre --tun-nocsum")
            .run("-S -n")
            .out(
                "-A -t 192.0.2.1:80 -s rr\n\
                 -a -t 192.0.2.1:80 -r 198.51.100.11:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n\
                 -a -t 192.0.2.1:80 -r 198.51.100.12:80 -i -w 1 --tun-type gre --tun-nocsum\n",
            ),
        // restore_table: each line is process_options; a kernel error is printed and the
        // next line runs; the exit status is the last line's.
        Case::new("-R: a refused line is reported, the rest is applied")
            .run("-R")
            .input(
                "-A -t 192.0.2.1:80 -s rr\n\
                 -a -t 192.0.2.1:80 -r 198.51.100.10 -m\n\
                 -A -t 192.0.2.1:80 -s wlc\n\
                 -a -t 192.0.2.1:80 -r 198.51.100.10 -m\n\
                 -a -t 192.0.2.1:80 -r 198.51.100.11 -m -w 3\n",
            )
            .err(format!("{SVC_EXISTS}{DEST_EXISTS}"))
            .run("-Ln")
            .out(listing![
                "TCP  192.0.2.1:80 rr",
                dest("198.51.100.10:80", "Masq", 1),
                dest("198.51.100.11:80", "Masq", 3),
            ]),
        Case::new("-R: last line without a newline")
            .run("-R")
            .input("-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.10 -m")
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 1)]),
        Case::new("-R: exit status of the last line")
            .run("-R")
            .input("-A -t 192.0.2.1:80 -s rr\n-D -t 192.0.2.9:80\n")
            .fails(NO_SVC, 255)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // A usage error calls fail(), which exits: the lines after it are not read.
        Case::new("-R: a usage error stops the restore")
            .run("-R")
            .input("-A -t 192.0.2.1:80 -s rr\n-A -t 192.0.2.2:80 -x 5\n-A -t 192.0.2.3:80 -s rr\n")
            .fails("Illegal 'u-threshold' option with the 'add-service' command\n", 2)
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr"]),
        // config_stream_read drops "ipvsadm" tokens; empty lines give argc 1 and are skipped.
        Case::new("-R: \"ipvsadm\" prefixes, blank lines, timeouts and daemons")
            .run("--restore")
            .input(
                "ipvsadm -A -t 192.0.2.1:80 -s rr\n\
                 \n\
                 ipvsadm -a -t 192.0.2.1:80 -r 198.51.100.10 -m\n\
                 --set 10 20 30\n\
                 --start-daemon master --mcast-interface lo --syncid 4\n",
            )
            .run("-Ln")
            .out(listing!["TCP  192.0.2.1:80 rr", dest("198.51.100.10:80", "Masq", 1)])
            .run("-L --timeout")
            .out(timeouts(10, 20, 30))
            .run("-L --daemon")
            .out(daemon("master", "lo", 4, 1472, "224.0.0.81", 8848, 1)),
    ]);
}

/// -S -n piped into -R after -C gives back the same table, through the real programs.
#[test]
fn save_flush_restore_round_trip() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    for s in SAVE_SETUP {
        let args: Vec<&str> = s.split_whitespace().collect();
        let out = d.ipvsadm(&args);
        assert!(out.status.success(), "{s}: {out:?}");
    }
    let before = d.ipvsadm(&["-Ln"]);
    let saved = d.ipvsadm(&["-S", "-n"]);
    assert!(saved.status.success(), "{saved:?}");
    assert!(d.ipvsadm(&["-C"]).status.success());
    assert_eq!(String::from_utf8_lossy(&d.ipvsadm(&["-Ln"]).stdout), empty());
    let restored = d.ipvsadm_stdin(&["-R"], &String::from_utf8_lossy(&saved.stdout));
    assert_eq!(
        (restored.status.code(), String::from_utf8_lossy(&restored.stderr).into_owned()),
        (Some(0), String::new())
    );
    let after = d.ipvsadm(&["-Ln"]);
    assert_eq!(String::from_utf8_lossy(&after.stdout), String::from_utf8_lossy(&before.stdout));
    assert_eq!(String::from_utf8_lossy(&after.stdout), save_listing());
}

#[test]
fn usage_errors() {
    run_cases(&[
        // version(): "ipvsadm " IPVSADM_VERSION " (compiled with popt and IPVS v%d.%d.%d)".
        Case::new("-v (after ipvs_init, so GETFAMILY and GET_INFO work)")
            .run("-v")
            .out("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"),
        // No command first: tryhelp_exit(argv[0], -1).
        Case::new("no command")
            .run("--bogus")
            .fails(
                "Try `/usr/sbin/ipvsadm -h' or '/usr/sbin/ipvsadm --help' for more information.\n",
                255,
            ),
        // popt error after the command: "%s: %s\n", then process_options returns -1.
        Case::new("unknown option after the command")
            .run("-A -t 192.0.2.1:80 --bogus")
            .fails("--bogus: unknown option\n", 255),
        Case::new("illegal option for the command")
            .run("-A -t 192.0.2.1:80 -r 198.51.100.10")
            .fails("Illegal 'real-server' option with the 'add-service' command\n", 2),
        Case::new("missing service")
            .run("-A -s rr")
            .fails("You need to supply the 'service-address' option for the 'add-service' command\n", 2),
        Case::new("option given twice")
            .run("-L -n -n")
            .fails("multiple 'numeric' options specified\n", 2),
        Case::new("unexpected argument").run("-C extra").fails("unexpected argument extra\n", 2),
        Case::new("bad service addresses")
            .run("-A -t 192.0.2.300:80")
            .fails("illegal virtual server address[:port] specified\n", 2)
            .run("-A -t 192.0.2.1:99999")
            .fails("illegal virtual server address[:port] specified\n", 2)
            .run("-A -t [2001:db8::1")
            .fails("illegal virtual server address[:port] specified\n", 2)
            .run("-A -t [2001:db8::1]80")
            .fails("illegal virtual server address[:port] specified\n", 2)
            .run("-A -u 80")
            .fails("illegal virtual server address[:port] specified\n", 2)
            .run("-Ln")
            .out(empty()),
        Case::new("bad fwmarks")
            .run("-A -f 0")
            .fails("invalid fwmark value `0' specified\n", 2)
            .run("-A -f abc")
            .fails("invalid fwmark value `abc' specified\n", 2),
    ]);
}

/// A table larger than one netlink datagram: 300 services (restored in one -R), dests on some;
/// -Ln and -S -n must list all of it, sorted.
#[test]
fn large_table() {
    let mut input = String::new();
    let mut listed = Vec::new();
    let mut saved = String::new();
    // Added in reverse port order, so that only ipvsadm's sort puts them in order.
    for port in (1000..1300).rev() {
        input.push_str(&format!("-A -t 192.0.2.1:{port} -s wrr -p 120\n"));
    }
    for port in 1000..1010 {
        for host in [12, 11, 10] {
            input.push_str(&format!("-a -t 192.0.2.1:{port} -r 198.51.100.{host}:{port} -m -w {host}\n"));
        }
    }
    for port in 1000..1300 {
        listed.push(format!("TCP  192.0.2.1:{port} wrr persistent 120"));
        saved.push_str(&format!("-A -t 192.0.2.1:{port} -s wrr -p 120\n"));
        if port < 1010 {
            for host in [10, 11, 12] {
                listed.push(dest(&format!("198.51.100.{host}:{port}"), "Masq", host));
                saved.push_str(&format!("-a -t 192.0.2.1:{port} -r 198.51.100.{host}:{port} -m -w {host}\n"));
            }
        }
    }
    run_cases(&[Case::new("300 services, 30 dests")
        .run("-R")
        .input(input)
        .run("-Ln")
        .out(text::listing(&listed))
        .run("-S -n")
        .out(saved)]);
}

/// Several ipvsadm processes at once: each gets its own answers, nothing is lost.
#[test]
fn concurrent_clients() {
    if skip() {
        return;
    }
    let d = Dpvsd::start();
    std::thread::scope(|s| {
        for worker in 0..6u16 {
            let d = &d;
            s.spawn(move || {
                for i in 0..15u16 {
                    let port = (2000 + worker * 100 + i).to_string();
                    let svc = format!("192.0.2.1:{port}");
                    let out = d.ipvsadm(&["-A", "-t", &svc, "-s", "rr"]);
                    assert!(out.status.success(), "-A {svc}: {out:?}");
                    let out = d.ipvsadm(&["-a", "-t", &svc, "-r", "198.51.100.10", "-m"]);
                    assert!(out.status.success(), "-a {svc}: {out:?}");
                    let out = d.ipvsadm(&["-Ln"]);
                    assert!(out.status.success(), "-Ln: {out:?}");
                }
            });
        }
    });
    let mut lines = Vec::new();
    for worker in 0..6u16 {
        for i in 0..15u16 {
            let port = 2000 + worker * 100 + i;
            lines.push(format!("TCP  192.0.2.1:{port} rr"));
            lines.push(dest(&format!("198.51.100.10:{port}"), "Masq", 1));
        }
    }
    let out = d.ipvsadm(&["-Ln"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), text::listing(&lines));
}
