//! The last request sent on each redirected socket.
//!
//! A kernel answers every request it accepts; dpvsd can die between a request
//! and its answer. Keeping the request lets the shim heal that: it resends it
//! to the restarted dpvsd, or, if dpvsd stays away, hands the program the
//! NLMSG_ERROR a kernel would have sent instead of an endless end-of-file.
//! Entries are few (one per open IPVS socket) and small (one request).

use std::sync::Mutex;

use libc::c_int;

static LAST: Mutex<Vec<(c_int, Vec<u8>)>> = Mutex::new(Vec::new());

fn with<R>(f: impl FnOnce(&mut Vec<(c_int, Vec<u8>)>) -> R) -> R {
    let mut guard = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f(&mut guard)
}

/// Records `request` as the one awaiting an answer on `fd`.
pub fn remember(fd: c_int, request: &[u8]) {
    with(|v| match v.iter_mut().find(|(f, _)| *f == fd) {
        Some((_, r)) => {
            r.clear();
            r.extend_from_slice(request);
        }
        None => v.push((fd, request.to_vec())),
    });
}

/// The last request sent on `fd`, if any.
pub fn last(fd: c_int) -> Option<Vec<u8>> {
    with(|v| v.iter().find(|(f, _)| *f == fd).map(|(_, r)| r.clone()))
}

/// Forgets `fd`'s request if `datagram` (just read from it) ends its answer.
pub fn answered(fd: c_int, datagram: &[u8]) {
    with(|v| {
        let done = v.iter().find(|(f, _)| *f == fd).and_then(|(_, r)| crate::wire::request_seq(r)).is_some_and(
            |seq| crate::wire::ends_answer(datagram, seq),
        );
        if done {
            v.retain(|(f, _)| *f != fd);
        }
    });
}

/// Forgets `fd` (closed, or no longer a dpvsd socket).
pub fn forget(fd: c_int) {
    with(|v| v.retain(|(f, _)| *f != fd));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_latest_per_fd_and_forgets() {
        remember(9001, b"one");
        remember(9002, b"two");
        remember(9001, b"three");
        assert_eq!(last(9001).as_deref(), Some(&b"three"[..]));
        assert_eq!(last(9002).as_deref(), Some(&b"two"[..]));
        forget(9001);
        assert_eq!(last(9001), None);
        forget(9002);
    }
}
