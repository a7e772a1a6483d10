//! HTTP routes, one file per resource.

pub mod assets;
pub mod demo;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod sessions;
pub mod tombstones;
