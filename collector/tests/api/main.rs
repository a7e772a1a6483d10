//! API tests: the real collector on a free loopback port with a temporary sled
//! store, driven over HTTP. One binary for the crate (`helpers` + one module per
//! resource).

mod deletion;
mod helpers;
mod ingest;
mod integrity;
mod sessions;
