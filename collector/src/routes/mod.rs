//! HTTP routes, one file per resource.

pub mod assets;
pub mod ingest;
pub mod sessions;
