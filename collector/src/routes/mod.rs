//! HTTP routes, one file per resource.

pub mod assets;
pub mod demo;
pub mod ingest;
pub mod sessions;
pub mod tombstones;
