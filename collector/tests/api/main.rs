//! API tests: the real collector on a free loopback port with a temporary sled
//! store, driven over HTTP. One binary for the crate (`helpers` + one module per
//! resource).

mod assets;
mod audit;
mod crash;
mod deletion;
mod export;
mod helpers;
mod hostile;
mod ingest;
mod integrity;
mod live;
mod logs;
mod openapi;
mod ops;
mod sessions;
