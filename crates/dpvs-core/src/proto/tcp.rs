//! The TCP connection states of IPVS (`net/netfilter/ipvs/ip_vs_proto_tcp.c`).
//!
//! IPVS does not track TCP the way a stack does: it moves a connection through a small
//! table indexed by (direction, flag class, current state), where the flag class is RST if
//! set, else SYN, else FIN, else ACK (`tcp_state_idx`), and a segment with none of the four
//! moves the connection to CLOSE. There are three directions: INPUT (client to server),
//! OUTPUT (server replies, seen only for NAT/full-NAT) and INPUT_ONLY, used for input while
//! the connection has not seen any output (DR/TUN, where replies bypass the balancer: the
//! connection carries the kernel's `IP_VS_CONN_F_NOOUTPUT` flag until an output packet
//! shows up).
//!
//! The tables are those of Linux 4.8 and later: an ACK in state NONE leads to ESTABLISHED
//! (connections picked up mid-stream with `sloppy_tcp` or by sync), and the states SYN_SENT,
//! SYN_RECV and SYNACK count as *active* as well as ESTABLISHED (commit "ipvs: count
//! pre-established TCP states as active"). The `secure_tcp` defence tables
//! (`tcp_states_dos`) are here too.

/// A TCP connection state, numbered as the kernel's `IP_VS_TCP_S_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    /// `NONE`: just created, nothing seen yet.
    None = 0,
    /// `ESTABLISHED`.
    Established = 1,
    /// `SYN_SENT`: the server sent a SYN (output direction).
    SynSent = 2,
    /// `SYN_RECV`: the client's SYN went through.
    SynRecv = 3,
    /// `FIN_WAIT`.
    FinWait = 4,
    /// `TIME_WAIT`.
    TimeWait = 5,
    /// `CLOSE`.
    Close = 6,
    /// `CLOSE_WAIT`.
    CloseWait = 7,
    /// `LAST_ACK`.
    LastAck = 8,
    /// `LISTEN` (FTP data connections waiting for the server).
    Listen = 9,
    /// `SYNACK`.
    SynAck = 10,
}

/// Number of TCP states (`IP_VS_TCP_S_LAST`).
pub const TCP_STATES: usize = 11;

impl TcpState {
    /// Every state, by number.
    pub const ALL: [TcpState; TCP_STATES] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The state with number `n` (`None` for an out-of-range number).
    pub fn from_u8(n: u8) -> Option<TcpState> {
        TcpState::ALL.get(n as usize).copied()
    }

    /// The kernel's name (`tcp_state_name_table`), as `ipvsadm -lc` prints it.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// Whether a connection in this state counts in the dest's active connections
    /// (`tcp_state_active`): ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::SynAck
        )
    }
}

/// The default timeout of each state in milliseconds (`tcp_timeouts`, in jiffies there).
pub const DEFAULT_TCP_TIMEOUTS_MS: [u32; TCP_STATES] = [
    2_000,   // NONE
    900_000, // ESTABLISHED 15 min
    120_000, // SYN_SENT
    60_000,  // SYN_RECV
    120_000, // FIN_WAIT
    120_000, // TIME_WAIT
    10_000,  // CLOSE
    60_000,  // CLOSE_WAIT
    30_000,  // LAST_ACK
    120_000, // LISTEN
    120_000, // SYNACK
];

/// The flags of a TCP segment that the state machine looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// ACK.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// SYN + ACK.
    pub const SYN_ACK: TcpFlags = TcpFlags(0x12);
    /// FIN + ACK.
    pub const FIN_ACK: TcpFlags = TcpFlags(0x11);
    /// RST + ACK.
    pub const RST_ACK: TcpFlags = TcpFlags(0x14);
    /// No flag.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// From the low byte of the TCP header's flags field (`dpvs_wire::tcp::TcpFlags.0 as u8`).
    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }

    /// SYN set.
    pub const fn syn(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// FIN set.
    pub const fn fin(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// RST set.
    pub const fn rst(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// ACK set.
    pub const fn ack(self) -> bool {
        self.0 & 0x10 != 0
    }

    /// `tcp_state_idx`: the row of the state table (0 SYN, 1 FIN, 2 ACK, 3 RST), RST first.
    pub const fn class(self) -> Option<usize> {
        if self.rst() {
            Some(3)
        } else if self.syn() {
            Some(0)
        } else if self.fin() {
            Some(1)
        } else if self.ack() {
            Some(2)
        } else {
            None
        }
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// Which way a packet goes relative to the connection (`IP_VS_DIR_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (`IP_VS_DIR_INPUT`).
    Input,
    /// Server to client (`IP_VS_DIR_OUTPUT`).
    Output,
}

use TcpState as S;
const ES: S = S::Established;
const SS: S = S::SynSent;
const SR: S = S::SynRecv;
const FW: S = S::FinWait;
const TW: S = S::TimeWait;
const CL: S = S::Close;
const CW: S = S::CloseWait;
const LA: S = S::LastAck;
const LI: S = S::Listen;
const SA: S = S::SynAck;

type Table = [[TcpState; TCP_STATES]; 12];

/// `tcp_states`: rows INPUT syn/fin/ack/rst, OUTPUT syn/fin/ack/rst, INPUT_ONLY syn/fin/ack/rst;
/// columns NO ES SS SR FW TW CL CW LA LI SA.
#[rustfmt::skip]
static TCP_STATES_TABLE: Table = [
    // INPUT
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // syn
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW], // fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR], // rst
    // OUTPUT
    [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR], // syn
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // fin
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // ack
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // rst
    // INPUT_ONLY
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR], // syn
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
];

/// `tcp_states_dos`, used when `secure_tcp` is on.
#[rustfmt::skip]
static TCP_STATES_DOS_TABLE: Table = [
    // INPUT
    [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA], // syn
    [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA], // fin
    [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA], // ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
    // OUTPUT
    [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA], // syn
    [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW], // fin
    [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES], // ack
    [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL], // rst
    // INPUT_ONLY
    [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA], // syn
    [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW], // fin
    [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES], // ack
    [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL], // rst
];

/// The result of one step of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpStep {
    /// The new state.
    pub state: TcpState,
    /// Whether the connection still has `NOOUTPUT` (no output packet seen yet).
    pub no_output: bool,
}

/// `set_tcp_state` without the side effects: the next state of a connection in `state` for a
/// segment with `flags` going `dir`. `no_output` is the connection's `NOOUTPUT` flag: input
/// then uses the INPUT_ONLY rows, and an output packet clears it. `secure` selects the
/// `secure_tcp` tables.
#[inline]
pub fn next_state(
    state: TcpState,
    dir: Direction,
    flags: TcpFlags,
    no_output: bool,
    secure: bool,
) -> TcpStep {
    let (off, no_output) = match (dir, no_output) {
        (Direction::Output, _) => (4, false),
        (Direction::Input, true) => (8, true),
        (Direction::Input, false) => (0, false),
    };
    let state = match flags.class() {
        Some(row) => {
            let t = if secure {
                &TCP_STATES_DOS_TABLE
            } else {
                &TCP_STATES_TABLE
            };
            t[off + row][state as usize]
        }
        // no SYN/FIN/ACK/RST: the kernel's default new_state, CLOSE
        None => TcpState::Close,
    };
    TcpStep { state, no_output }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Input as I, Output as O};

    /// Replays `(dir, flags, expected state, expected active)` from a fresh connection.
    fn replay(no_output: bool, steps: &[(Direction, TcpFlags, TcpState)]) {
        let mut st = TcpState::None;
        let mut nout = no_output;
        for (k, (d, f, want)) in steps.iter().enumerate() {
            let s = next_state(st, *d, *f, nout, false);
            assert_eq!(
                s.state,
                *want,
                "step {k}: {:?} {:?} from {}",
                d,
                f,
                st.name()
            );
            st = s.state;
            nout = s.no_output;
        }
    }

    #[test]
    fn nat_handshake_and_client_close() {
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (O, TcpFlags::SYN_ACK, S::SynRecv),
                (I, TcpFlags::ACK, S::Established),
                (I, TcpFlags::ACK, S::Established),
                (O, TcpFlags::ACK, S::Established),
                (I, TcpFlags::FIN_ACK, S::CloseWait),
                (O, TcpFlags::ACK, S::CloseWait),
                (O, TcpFlags::FIN_ACK, S::TimeWait),
                (I, TcpFlags::ACK, S::TimeWait),
            ],
        );
    }

    #[test]
    fn nat_server_closes_first() {
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (O, TcpFlags::SYN_ACK, S::SynRecv),
                (I, TcpFlags::ACK, S::Established),
                (O, TcpFlags::FIN_ACK, S::FinWait),
                (I, TcpFlags::ACK, S::FinWait),
                (I, TcpFlags::FIN_ACK, S::TimeWait),
                (O, TcpFlags::ACK, S::TimeWait),
            ],
        );
    }

    #[test]
    fn simultaneous_close() {
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (O, TcpFlags::SYN_ACK, S::SynRecv),
                (I, TcpFlags::ACK, S::Established),
                (I, TcpFlags::FIN_ACK, S::CloseWait),
                (O, TcpFlags::FIN_ACK, S::TimeWait),
                (I, TcpFlags::ACK, S::TimeWait),
                (O, TcpFlags::ACK, S::TimeWait),
            ],
        );
    }

    #[test]
    fn resets() {
        // client RST on an established connection
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (O, TcpFlags::SYN_ACK, S::SynRecv),
                (I, TcpFlags::ACK, S::Established),
                (I, TcpFlags::RST_ACK, S::Close),
            ],
        );
        // server refuses: RST in answer to the SYN
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (O, TcpFlags::RST_ACK, S::Close),
            ],
        );
        // an input RST in SYN_RECV does not close (it may be spoofed)
        replay(
            false,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (I, TcpFlags::RST, S::SynRecv),
            ],
        );
        // RST wins over SYN in the flag class
        assert_eq!(TcpFlags(0x06).class(), Some(3));
    }

    #[test]
    fn input_only_dr() {
        replay(
            true,
            &[
                (I, TcpFlags::SYN, S::SynRecv),
                (I, TcpFlags::ACK, S::Established),
                (I, TcpFlags::ACK, S::Established),
                (I, TcpFlags::FIN_ACK, S::FinWait),
                (I, TcpFlags::ACK, S::FinWait),
                (I, TcpFlags::RST, S::Close),
            ],
        );
        // INPUT_ONLY differs from INPUT on FIN in ESTABLISHED and RST in SYNACK
        assert_eq!(
            next_state(S::Established, I, TcpFlags::FIN, true, false).state,
            S::FinWait
        );
        assert_eq!(
            next_state(S::Established, I, TcpFlags::FIN, false, false).state,
            S::CloseWait
        );
        // an output packet clears NOOUTPUT
        let s = next_state(S::SynRecv, O, TcpFlags::SYN_ACK, true, false);
        assert!(!s.no_output);
        assert!(next_state(S::SynRecv, I, TcpFlags::ACK, true, false).no_output);
    }

    #[test]
    fn no_flags_closes() {
        assert_eq!(
            next_state(S::Established, I, TcpFlags::NONE, false, false).state,
            S::Close
        );
    }

    #[test]
    fn secure_tcp_tables() {
        // with secure_tcp an ACK in SYN_RECV from the client does not establish
        assert_eq!(
            next_state(S::SynRecv, I, TcpFlags::ACK, false, true).state,
            S::SynRecv
        );
        assert_eq!(
            next_state(S::None, I, TcpFlags::SYN, true, true).state,
            S::SynAck
        );
    }

    #[test]
    fn names_and_activity() {
        let names: Vec<_> = TcpState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "NONE",
                "ESTABLISHED",
                "SYN_SENT",
                "SYN_RECV",
                "FIN_WAIT",
                "TIME_WAIT",
                "CLOSE",
                "CLOSE_WAIT",
                "LAST_ACK",
                "LISTEN",
                "SYNACK"
            ]
        );
        let active: Vec<_> = TcpState::ALL.iter().filter(|s| s.is_active()).collect();
        assert_eq!(active.len(), 4);
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(TcpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(TcpState::from_u8(11), None);
    }
}
