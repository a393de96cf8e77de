//! Per-service and per-dest traffic counters, owned by a worker and summed by the control
//! thread (the kernel's `struct ip_vs_counters`; rates are estimated by the control thread).

/// Connections scheduled, packets and bytes in both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Connections scheduled (`conns`; one-packet "connections" count too, as in the kernel).
    pub conns: u64,
    /// Packets client to server.
    pub inpkts: u64,
    /// Packets server to client.
    pub outpkts: u64,
    /// Bytes client to server.
    pub inbytes: u64,
    /// Bytes server to client.
    pub outbytes: u64,
}

impl Counters {
    /// Counts an incoming packet of `bytes`.
    #[inline]
    pub fn count_in(&mut self, bytes: u32) {
        self.inpkts = self.inpkts.wrapping_add(1);
        self.inbytes = self.inbytes.wrapping_add(bytes as u64);
    }

    /// Counts an outgoing packet of `bytes`.
    #[inline]
    pub fn count_out(&mut self, bytes: u32) {
        self.outpkts = self.outpkts.wrapping_add(1);
        self.outbytes = self.outbytes.wrapping_add(bytes as u64);
    }

    /// Adds `other` (summing workers).
    pub fn add(&mut self, other: &Counters) {
        self.conns = self.conns.wrapping_add(other.conns);
        self.inpkts = self.inpkts.wrapping_add(other.inpkts);
        self.outpkts = self.outpkts.wrapping_add(other.outpkts);
        self.inbytes = self.inbytes.wrapping_add(other.inbytes);
        self.outbytes = self.outbytes.wrapping_add(other.outbytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_adds() {
        let mut a = Counters::default();
        a.count_in(100);
        a.count_out(60);
        a.conns += 1;
        let mut s = Counters::default();
        s.add(&a);
        s.add(&a);
        assert_eq!(
            s,
            Counters {
                conns: 2,
                inpkts: 2,
                outpkts: 2,
                inbytes: 200,
                outbytes: 120
            }
        );
    }
}
