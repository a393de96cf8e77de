//! Clients run without a network: ipvsadm and ipvsadm-compat print names for addresses and
//! ports unless told `-n`, and a name lookup that reaches the machine's DNS server takes as
//! long as that server does. A resolver that drops a query costs five seconds a try (glibc's
//! default), enough for a listing of a dozen services to outlive [`crate::COMMAND_TIMEOUT`].
//!
//! So the test clients run in a network namespace of their own, with only a loopback that is
//! down: their lookups read /etc/hosts and /etc/services as before, and a DNS query fails at
//! once (ENETUNREACH) instead of waiting. Both programs under comparison see the same thing.
//! They still reach dpvsd, whose sockets are paths in the filesystem.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;
use std::thread;

/// The namespace, made once per test process by a thread of its own (a namespace lives as
/// long as a descriptor of it is open). None when it cannot be made (not root): the clients
/// then run where the test runs.
fn namespace() -> Option<RawFd> {
    static NS: OnceLock<Option<OwnedFd>> = OnceLock::new();
    NS.get_or_init(|| {
        thread::spawn(|| -> io::Result<OwnedFd> {
            // SAFETY: unshare takes no pointers; CLONE_NEWNET moves only this short-lived
            // thread into a new network namespace, leaving the test's threads where they are.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            File::open("/proc/thread-self/ns/net").map(OwnedFd::from)
        })
        .join()
        .ok()
        .and_then(Result::ok)
    })
    .as_ref()
    .map(AsRawFd::as_raw_fd)
}

/// Makes `cmd` start in the network namespace without a network (where there is one).
pub fn offline(cmd: &mut Command) -> &mut Command {
    let Some(ns) = namespace() else { return cmd };
    // SAFETY: the closure runs in the forked child before exec and makes one syscall on a
    // descriptor that stays open for the life of the test process (it is in a static);
    // it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(ns, libc::CLONE_NEWNET) == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client started offline is in another network namespace, with no interface up and no
    /// route, and still resolves names from /etc/hosts.
    #[test]
    fn clients_start_without_a_network() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            println!("skipped: needs root");
            return;
        }
        let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "readlink /proc/self/ns/net; ip -o link show up | wc -l; getent hosts localhost"]);
        let out = offline(&mut c).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_ne!(lines[0], ours.to_string_lossy(), "{text}");
        assert_eq!(lines[1], "0", "no interface is up: {text}");
        assert!(lines[2].starts_with("127.0.0.1") && lines[2].ends_with("localhost"), "{text}");
        // No route leads anywhere, so no nameserver is reached and a DNS lookup fails as soon
        // as it is tried.
        let mut c = Command::new("/bin/sh");
        c.args(["-c", "ip route show table all; ip -6 route show table all"]);
        let out = offline(&mut c).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "routes offline");
    }
}
