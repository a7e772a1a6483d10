//! End-to-end: real pages in real headless Chromium, recorded by the real
//! recorder (wasm), stored by a real collector on a free port with a temporary
//! sled store, read back through the agent API and the review app.

mod capture;
mod cross_origin;
mod delivery;
mod privacy;
mod review;
