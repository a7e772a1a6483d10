//! HTTP routes, one file per resource.

pub mod assets;
pub mod audit_log;
pub mod demo;
pub mod docs;
pub mod export;
pub mod health;
pub mod ingest;
pub mod live;
pub mod me;
pub mod metrics;
pub mod platform;
pub mod sessions;
pub mod tombstones;
