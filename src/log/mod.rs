//! The log layer: see the layer map in lib.rs.
