//! Per-protocol connection handling: the TCP state machine, UDP and ICMP, and the timeouts.
//!
//! A connection's state is one byte: a [`TcpState`] number for TCP, `0` (the kernel's
//! `IP_VS_UDP_S_NORMAL`, DPVS's `DPVS_ICMP_S_NORMAL`) for UDP and ICMP. [`transition`] is the
//! kernel's `state_transition` hook: the new state, the timeout the connection is re-armed
//! with, whether it counts as active, and whether its persistence template becomes assured.

pub mod icmp;
pub mod tcp;

pub use tcp::{Direction, TcpFlags, TcpState, DEFAULT_TCP_TIMEOUTS_MS, TCP_STATES};

use crate::sched::{IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};

/// IP protocol number of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;

/// Default UDP timeout (`udp_timeouts[IP_VS_UDP_S_NORMAL]`, 5 minutes).
pub const DEFAULT_UDP_TIMEOUT_MS: u32 = 300_000;
/// Default ICMP timeout (DPVS's `icmp_timeouts[DPVS_ICMP_S_NORMAL]`, 300 s; the kernel does not
/// balance ICMP).
pub const DEFAULT_ICMP_TIMEOUT_MS: u32 = 300_000;
/// The timeout of a connection right after creation, before its first state transition
/// (`cp->timeout = 3*HZ` in `ip_vs_conn_new`).
pub const INITIAL_TIMEOUT_MS: u32 = 3_000;
/// How long an expiring entry that still controls others is kept (`expire_later`, 60 s).
pub const EXPIRE_LATER_MS: u32 = 60_000;

/// The protocols the connection table handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP, with the state machine.
    Tcp,
    /// UDP: one state.
    Udp,
    /// ICMP or ICMPv6 queries (echo and friends), keyed by identifier as DPVS does.
    Icmp,
}

impl Protocol {
    /// The protocol for an IP protocol number, if the table handles it.
    #[inline]
    pub fn from_number(n: u8) -> Option<Protocol> {
        match n {
            IPPROTO_TCP => Some(Protocol::Tcp),
            IPPROTO_UDP => Some(Protocol::Udp),
            IPPROTO_ICMP | IPPROTO_ICMPV6 => Some(Protocol::Icmp),
            _ => None,
        }
    }
}

/// The protocol timeouts of a snapshot, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Per TCP state, indexed by [`TcpState`] number.
    pub tcp: [u32; TCP_STATES],
    /// UDP.
    pub udp: u32,
    /// ICMP queries.
    pub icmp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp: DEFAULT_TCP_TIMEOUTS_MS,
            udp: DEFAULT_UDP_TIMEOUT_MS,
            icmp: DEFAULT_ICMP_TIMEOUT_MS,
        }
    }
}

impl Timeouts {
    /// Applies an IPVS `SET_CONFIG` (`ipvsadm --set tcp tcpfin udp`), in seconds, as
    /// `ip_vs_set_timeout` does: `tcp` is the ESTABLISHED timeout, `tcp_fin` the FIN_WAIT one,
    /// `udp` the UDP one; a zero leaves the value unchanged.
    pub fn set_ipvs(&mut self, tcp: u32, tcp_fin: u32, udp: u32) {
        let ms = |s: u32| s.saturating_mul(1000);
        if tcp > 0 {
            self.tcp[TcpState::Established as usize] = ms(tcp);
        }
        if tcp_fin > 0 {
            self.tcp[TcpState::FinWait as usize] = ms(tcp_fin);
        }
        if udp > 0 {
            self.udp = ms(udp);
        }
    }

    /// The three values `GET_CONFIG` reports, in seconds: (tcp, tcp_fin, udp).
    pub fn ipvs(&self) -> (u32, u32, u32) {
        (
            self.tcp[TcpState::Established as usize] / 1000,
            self.tcp[TcpState::FinWait as usize] / 1000,
            self.udp / 1000,
        )
    }
}

/// What one packet does to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The new state byte.
    pub state: u8,
    /// The connection's timeout from now on.
    pub timeout_ms: u32,
    /// Whether the connection still has not seen output.
    pub no_output: bool,
    /// Whether the state changed (the kernel moves active/inactive counts only then).
    pub changed: bool,
    /// Whether the new state counts as active (TCP only; UDP and ICMP are never active).
    pub active: bool,
    /// Whether the connection's persistence template becomes assured
    /// (`ip_vs_control_assure_ct`: TCP reaching ESTABLISHED, UDP/ICMP output).
    pub assure: bool,
}

/// The `state_transition` hook of `protocol` for a connection in `state`.
#[inline]
pub fn transition(
    protocol: Protocol,
    state: u8,
    dir: Direction,
    flags: TcpFlags,
    no_output: bool,
    secure_tcp: bool,
    timeouts: &Timeouts,
) -> Transition {
    match protocol {
        Protocol::Tcp => {
            let cur = TcpState::from_u8(state).unwrap_or(TcpState::None);
            let step = tcp::next_state(cur, dir, flags, no_output, secure_tcp);
            let changed = step.state != cur;
            Transition {
                state: step.state as u8,
                timeout_ms: timeouts.tcp[step.state as usize],
                no_output: step.no_output,
                changed,
                active: step.state.is_active(),
                assure: changed && step.state == TcpState::Established,
            }
        }
        Protocol::Udp | Protocol::Icmp => Transition {
            state: 0,
            timeout_ms: if protocol == Protocol::Udp {
                timeouts.udp
            } else {
                timeouts.icmp
            },
            // the kernel clears NOOUTPUT only in the TCP handler
            no_output,
            changed: false,
            active: false,
            assure: dir == Direction::Output,
        },
    }
}

/// The name of a connection state as `ipvsadm -lc` shows it.
pub fn state_name(protocol: Protocol, state: u8) -> &'static str {
    match protocol {
        Protocol::Tcp => TcpState::from_u8(state).map_or("ERR!", TcpState::name),
        Protocol::Udp => "UDP",
        Protocol::Icmp => "ICMP",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_config_maps_like_the_kernel() {
        let mut t = Timeouts::default();
        assert_eq!(t.ipvs(), (900, 120, 300));
        t.set_ipvs(3600, 0, 10);
        assert_eq!(t.ipvs(), (3600, 120, 10));
        assert_eq!(t.tcp[TcpState::Established as usize], 3_600_000);
        assert_eq!(t.tcp[TcpState::TimeWait as usize], 120_000, "untouched");
    }

    #[test]
    fn udp_and_icmp_have_one_state() {
        let t = Timeouts::default();
        let x = transition(
            Protocol::Udp,
            0,
            Direction::Input,
            TcpFlags::NONE,
            true,
            false,
            &t,
        );
        assert_eq!(
            (x.state, x.timeout_ms, x.active, x.assure),
            (0, 300_000, false, false)
        );
        let x = transition(
            Protocol::Udp,
            0,
            Direction::Output,
            TcpFlags::NONE,
            true,
            false,
            &t,
        );
        assert!(x.assure);
        assert_eq!(state_name(Protocol::Udp, 0), "UDP");
        assert_eq!(Protocol::from_number(58), Some(Protocol::Icmp));
        assert_eq!(Protocol::from_number(132), None);
    }

    #[test]
    fn tcp_transition_carries_timeouts() {
        let mut t = Timeouts::default();
        t.set_ipvs(100, 0, 0);
        let x = transition(
            Protocol::Tcp,
            3,
            Direction::Input,
            TcpFlags::ACK,
            false,
            false,
            &t,
        );
        assert_eq!(x.state, TcpState::Established as u8);
        assert_eq!(x.timeout_ms, 100_000);
        assert!(x.changed && x.active && x.assure);
        let y = transition(
            Protocol::Tcp,
            1,
            Direction::Input,
            TcpFlags::ACK,
            false,
            false,
            &t,
        );
        assert!(!y.changed && !y.assure);
    }
}
