//! The server layer: see the layer map in lib.rs.

pub mod config;
