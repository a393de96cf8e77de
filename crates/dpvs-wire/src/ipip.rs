//! ipip (in progress)
