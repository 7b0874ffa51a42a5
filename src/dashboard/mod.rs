//! The dashboard layer: a static page, a JSON API and Prometheus `/metrics`.
//!
//! Not built yet.
