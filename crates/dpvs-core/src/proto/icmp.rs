//! ICMP queries as connections (DPVS's `ip_vs_proto_icmp.c`).
//!
//! ICMP has no ports, so a query is keyed DPVS's way: the request's identifier plays the
//! client port and `type << 8 | code` of the *request* plays the virtual port. A reply is
//! looked up in the out direction with the request type it answers, so both directions find
//! the same connection. Only the query types below have a reply type; anything else (errors)
//! is not a connection of its own.

/// The pseudo ports of an ICMP query packet: `(source port, destination port)` to use in a
/// connection key, and whether the packet is a reply. `v6` selects ICMPv6 numbering.
/// Returns `None` for types that are neither a known query nor its reply.
pub fn query_ports(v6: bool, icmp_type: u8, code: u8, id: u16) -> Option<(u16, u16, bool)> {
    let (request, is_reply) = if v6 {
        match icmp_type {
            128 => (128, false), // echo request
            129 => (128, true),  // echo reply
            _ => return None,
        }
    } else {
        match icmp_type {
            8 => (8, false),   // echo
            0 => (8, true),    // echo reply
            13 => (13, false), // timestamp
            14 => (13, true),
            15 => (15, false), // information request
            16 => (15, true),
            17 => (17, false), // address mask request
            18 => (17, true),
            _ => return None,
        }
    };
    let pseudo = (request as u16) << 8 | code as u16;
    Some(if is_reply {
        (pseudo, id, true)
    } else {
        (id, pseudo, false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_reply_are_inverse() {
        let (s, d, r) = query_ports(false, 8, 0, 0x1234).unwrap();
        assert_eq!((s, d, r), (0x1234, 0x0800, false));
        let (s2, d2, r2) = query_ports(false, 0, 0, 0x1234).unwrap();
        assert_eq!((s2, d2, r2), (0x0800, 0x1234, true));
        assert_eq!(query_ports(true, 129, 0, 7), Some((0x8000, 7, true)));
        assert_eq!(query_ports(false, 3, 1, 7), None, "errors are not queries");
    }
}
