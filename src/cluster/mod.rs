//! The cluster layer: peer transport, controller election, replication and ISR.
//!
//! Not built yet: a broker with no `cluster.peers` is a cluster of one and
//! needs none of it.
