//! API tests: the real collector on a free loopback port with a temporary sled
//! store, driven over HTTP. One binary for the crate (`helpers` + one module per
//! resource).

mod audit;
mod export;
mod helpers;
mod ingest;
mod live;
mod sessions;
