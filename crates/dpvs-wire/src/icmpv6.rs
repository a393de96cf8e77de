//! icmpv6 (in progress)
