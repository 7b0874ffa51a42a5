//! The protocol layer: see the layer map in lib.rs.
