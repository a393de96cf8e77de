//! Fuzzes dpvsd's request parser and IPVS state machine: the input is a
//! sequence of datagrams (each prefixed by a u16 length and a flag byte:
//! admin or not), fed to one IPVS table as one client would send them.
//! Whatever comes in, dpvsd must not panic, and every answer must be a
//! well-formed netlink datagram.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut ipvs = dpvsd::ipvs::Ipvs::ephemeral(4096);
    let mut rest = data;
    while rest.len() >= 3 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 3);
        let admin = rest[2] & 1 == 1;
        let (datagram, tail) = rest[3..].split_at(len);
        rest = tail;
        let mut out = VecDeque::new();
        ipvs.handle_datagram(datagram, admin, &mut out);
        for answer in &out {
            let covered: usize = ipvs_genl::frame::messages(answer).map(|m| (m.bytes.len() + 3) & !3).sum();
            assert_eq!(covered.min(answer.len()), answer.len(), "answer datagram is not whole netlink messages");
            for m in ipvs_genl::frame::messages(answer) {
                let _ = ipvs_genl::frame::decode_reply(&m);
            }
        }
    }
});
