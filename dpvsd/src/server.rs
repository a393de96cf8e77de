//! dpvsd's control sockets, served by one event loop: the IPVS socket (the kernel's IPVS
//! generic-netlink API) and dpip's socket (rtnetlink-shaped messages, `crate::dpip`). Both
//! are unix SOCK_SEQPACKET listeners with the same permission rule.
//!
//! Each datagram is one netlink datagram. Clients are non-blocking; answers
//! queue per client and a client with queued output is not read until the
//! queue drains, so a slow or stalled reader holds only its own answers and
//! never blocks the others. A client that goes away mid-dump just loses its
//! queue.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use tracing::{debug, error, info, warn};

use crate::ipvs::Ipvs;
use crate::sys;

const LISTENER: Token = Token(0);
const SIGNALS: Token = Token(1);
const DPIP_LISTENER: Token = Token(2);
const FIRST_CLIENT: usize = 3;
/// After activity, poll without sleeping for this long before blocking:
/// clients speak request-response, so the next request usually follows
/// within a few microseconds, and catching it awake saves a wakeup (tens of
/// microseconds on a VM) per round trip. Idle, the loop sleeps.
const BUSY_POLL: Duration = Duration::from_micros(200);
/// Connections served at once; more are accepted and closed at once.
const MAX_CLIENTS: usize = 4096;
/// The largest request datagram read; larger ones are dropped whole (a
/// netlink request never comes near: the clients' send buffers are 32 KiB).
const MAX_DATAGRAM: usize = 256 * 1024;
const CAP_NET_ADMIN: u32 = 12;

/// Which API a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Ipvs,
    Dpip,
}

struct Client {
    fd: OwnedFd,
    api: Api,
    admin: bool,
    out: VecDeque<Vec<u8>>,
    writable_interest: bool,
}

pub struct Server {
    poll: Poll,
    listener: OwnedFd,
    signals: OwnedFd,
    path: PathBuf,
    /// dpip's listener and path.
    dpip: Option<(OwnedFd, PathBuf)>,
    clients: HashMap<Token, Client>,
    next: usize,
    buf: Vec<u8>,
    ipvs: Ipvs,
    /// Connections are being refused (limit, descriptors, memory).
    saturated: bool,
    /// The configuration file, re-read on SIGHUP.
    config_file: Option<PathBuf>,
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and threads started after) and
/// returns a descriptor that reports them.
pub fn signal_fd() -> anyhow::Result<OwnedFd> {
    sys::signalfd().context("cannot set up signal handling")
}

/// True when process `pid` has CAP_NET_ADMIN in its effective set.
fn has_net_admin(pid: i32) -> bool {
    sys::effective_caps(pid).is_ok_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// Makes `path`'s directory (0755 when created) and clears a stale socket;
/// refuses when another process still serves it.
fn prepare_path(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            sys::chmod(dir, 0o755)?;
        }
    }
    if path.exists() {
        if sys::seqpacket_connect(path).is_ok() {
            bail!("{} is already served by another dpvsd", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove stale socket {}", path.display()))?;
    }
    Ok(())
}

impl Server {
    /// Serves `ipvs` on `path`, and dpip's API on `dpip_path` when given. `signals` is
    /// [`signal_fd`]'s descriptor, made before any other thread starts so that none of them
    /// takes SIGTERM, SIGINT or SIGHUP.
    pub fn bind(
        path: &Path,
        dpip_path: Option<&Path>,
        ipvs: Ipvs,
        signals: OwnedFd,
        config_file: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        match sys::raise_nofile_limit() {
            Ok(n) if (n as usize) < MAX_CLIENTS + 64 => {
                warn!(limit = n, "open-file limit is below what {MAX_CLIENTS} IPVS clients need")
            }
            Ok(_) => {}
            Err(e) => warn!("cannot raise the open-file limit: {e}"),
        }
        if dpip_path == Some(path) {
            bail!("the dpip socket and the IPVS socket are both {}: give them different paths", path.display());
        }
        prepare_path(path)?;
        let listener =
            sys::seqpacket_listen(path, 1024).with_context(|| format!("cannot listen on {}", path.display()))?;
        // Anyone may connect, as anyone may open a netlink socket; requests
        // are then refused per the kernel's CAP_NET_ADMIN rule.
        sys::chmod(path, 0o666)?;
        let poll = Poll::new()?;
        poll.registry().register(&mut SourceFd(&listener.as_raw_fd()), LISTENER, Interest::READABLE)?;
        poll.registry().register(&mut SourceFd(&signals.as_raw_fd()), SIGNALS, Interest::READABLE)?;
        let dpip = match dpip_path {
            None => None,
            Some(p) => {
                prepare_path(p)?;
                let l = sys::seqpacket_listen(p, 1024).with_context(|| format!("cannot listen on {}", p.display()))?;
                sys::chmod(p, 0o666)?;
                poll.registry().register(&mut SourceFd(&l.as_raw_fd()), DPIP_LISTENER, Interest::READABLE)?;
                Some((l, p.to_path_buf()))
            }
        };
        Ok(Server {
            poll,
            listener,
            signals,
            path: path.to_path_buf(),
            dpip,
            clients: HashMap::new(),
            next: FIRST_CLIENT,
            buf: vec![0; MAX_DATAGRAM],
            ipvs,
            saturated: false,
            config_file,
        })
    }

    /// Serves until SIGTERM or SIGINT.
    pub fn run(&mut self) -> anyhow::Result<()> {
        info!(socket = %self.path.display(), family_id = self.ipvs.family_id, "serving the IPVS generic-netlink API");
        if let Some((_, p)) = &self.dpip {
            info!(socket = %p.display(), "serving dpip");
        }
        if let Err(e) = crate::notify::notify(&format!("READY=1\nSTATUS=serving IPVS on {}", self.path.display())) {
            warn!("cannot notify the service manager: {e}");
        }
        let mut events = Events::with_capacity(256);
        let mut last_activity: Option<Instant> = None;
        let mut next_tick = self.ipvs.tick().map(|d| Instant::now() + d);
        loop {
            let spinning = last_activity.is_some_and(|t| t.elapsed() < BUSY_POLL);
            if next_tick.is_some_and(|t| Instant::now() >= t) {
                next_tick = self.ipvs.tick().map(|d| Instant::now() + d);
            }
            let timeout = if spinning {
                Some(Duration::ZERO)
            } else {
                next_tick.map(|t| t.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            if events.is_empty() {
                if !spinning {
                    // about to sleep: the end of a burst of changes
                    self.ipvs.flush();
                    last_activity = None;
                }
                std::hint::spin_loop();
                continue;
            }
            last_activity = Some(Instant::now());
            for ev in events.iter() {
                match ev.token() {
                    LISTENER => self.accept_all(Api::Ipvs),
                    DPIP_LISTENER => self.accept_all(Api::Dpip),
                    SIGNALS => {
                        while let Some(sig) = sys::read_signal(self.signals.as_raw_fd())? {
                            if sig == libc::SIGHUP {
                                self.reload();
                            } else {
                                info!(signal = sig, "stopping");
                                let _ = crate::notify::notify("STOPPING=1");
                                return Ok(());
                            }
                        }
                    }
                    token => self.serve(token),
                }
            }
        }
    }

    /// SIGHUP: re-reads the configuration file; a file with an error changes nothing.
    fn reload(&mut self) {
        let Some(path) = self.config_file.clone() else {
            info!("SIGHUP: no configuration file to re-read");
            return;
        };
        match crate::config::Config::load(&path) {
            Err(e) => error!("SIGHUP: {e}; the running configuration stays"),
            Ok(cfg) => match (&cfg.dataplane, self.ipvs.dataplane.is_some()) {
                (Some(d), true) => self.ipvs.reload(d),
                (None, false) => info!("SIGHUP: {} re-read; nothing to reload without a dataplane", path.display()),
                _ => warn!("SIGHUP: starting or stopping the dataplane needs a restart"),
            },
        }
    }

    /// Accepts every pending connection. Running out of descriptors or
    /// memory refuses connections (logged once per episode); it never stops
    /// the server.
    fn accept_all(&mut self, api: Api) {
        let listener = match (api, &self.dpip) {
            (Api::Dpip, Some((l, _))) => l.as_raw_fd(),
            _ => self.listener.as_raw_fd(),
        };
        loop {
            let fd = match sys::accept(listener) {
                Ok(Some(fd)) => fd,
                Ok(None) => return,
                Err(e) => {
                    self.refusing(format_args!("cannot accept an IPVS client: {e}"));
                    return;
                }
            };
            if self.clients.len() >= MAX_CLIENTS {
                self.refusing(format_args!("{MAX_CLIENTS} IPVS clients connected; closing new connections"));
                continue;
            }
            let token = Token(self.next);
            if let Err(e) = self.poll.registry().register(&mut SourceFd(&fd.as_raw_fd()), token, Interest::READABLE) {
                self.refusing(format_args!("cannot watch an IPVS client: {e}"));
                continue;
            }
            self.saturated = false;
            self.next += 1;
            let cred = sys::peer_cred(fd.as_raw_fd()).ok();
            let admin = cred.is_some_and(|c| has_net_admin(c.pid));
            debug!(token = token.0, ?api, pid = cred.map(|c| c.pid), uid = cred.map(|c| c.uid), admin, "client connected");
            self.clients.insert(token, Client { fd, api, admin, out: VecDeque::new(), writable_interest: false });
            // Data may already be waiting: edge-triggered readiness won't say so again.
            self.serve(token);
        }
    }

    /// Logs why connections are being refused, once until one is accepted again.
    fn refusing(&mut self, why: std::fmt::Arguments<'_>) {
        if !self.saturated {
            warn!("{why}");
            self.saturated = true;
        }
    }

    /// Flushes a client's answers and handles its requests until it would
    /// block; drops it on EOF or error.
    fn serve(&mut self, token: Token) {
        if let Err(e) = self.serve_inner(token) {
            debug!(token = token.0, "client gone: {e}");
            if let Some(c) = self.clients.remove(&token) {
                let _ = self.poll.registry().deregister(&mut SourceFd(&c.fd.as_raw_fd()));
            }
        }
    }

    fn serve_inner(&mut self, token: Token) -> io::Result<()> {
        loop {
            let Some(client) = self.clients.get_mut(&token) else { return Ok(()) };
            let fd: RawFd = client.fd.as_raw_fd();
            while let Some(d) = client.out.front() {
                if !sys::send_datagram(fd, d)? {
                    break;
                }
                client.out.pop_front();
            }
            let want_write = !client.out.is_empty();
            if want_write != client.writable_interest {
                let interest = if want_write { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                self.poll.registry().reregister(&mut SourceFd(&fd), token, interest)?;
                client.writable_interest = want_write;
            }
            if want_write {
                return Ok(());
            }
            match sys::recv_datagram(fd, &mut self.buf)? {
                sys::Recv::WouldBlock => return Ok(()),
                sys::Recv::Closed => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed")),
                sys::Recv::TooLarge(n) => warn!(bytes = n, api = ?client.api, "dropped an oversized request"),
                sys::Recv::Datagram(n) => {
                    let (admin, api) = (client.admin, client.api);
                    let mut out = std::mem::take(&mut client.out);
                    match api {
                        Api::Ipvs => self.ipvs.handle_datagram(&self.buf[..n], admin, &mut out),
                        Api::Dpip => crate::dpip::handle_datagram(&mut self.ipvs, &self.buf[..n], admin, &mut out),
                    }
                    if let Some(c) = self.clients.get_mut(&token) {
                        c.out = out;
                    }
                }
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some((_, p)) = &self.dpip {
            let _ = std::fs::remove_file(p);
        }
    }
}
