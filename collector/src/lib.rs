//! The cotrail collector: an actix-web service that takes batches of co-browsing
//! events from recorders, stores them durably and idempotently in sled, and serves
//! the trails to agents.
//!
//! - [`config`]: settings from defaults, a TOML file, `COTRAIL_*` environment
//!   variables and CLI flags (figment).
//! - [`tenants`]: tenants, site keys with allowed origins, user tokens, server
//!   keys; the generated demo tenant.
//! - [`audit`]: the collector's own activity-log records (who viewed,
//!   exported, verified or deleted a trail): [`audit::record_access`].
//! - [`live`]: the live fan-out behind the SSE tail.
//! - [`auth`]: extractors resolving credentials to a tenant (`Reader`, `Admin`,
//!   `Server`).
//! - [`startup`]: [`startup::Application`] binds the listener, wires routes, runs
//!   and shuts down gracefully (flushing the store).
//! - [`routes`]: one file per resource: `ingest` (batches in), `sessions` (trails
//!   out), `live` (SSE tail), `export` (NDJSON/CSV), `platform` (platform audit
//!   records in), `audit_log` (the activity log out), `assets` (the recorder
//!   bundle and the `www/` site), `docs` (the OpenAPI document and Swagger UI).
//! - [`openapi`]: the OpenAPI document of every route (utoipa), served with
//!   the vendored Swagger UI by `routes::docs`.
//! - [`store`]: the only module that knows sled: key encoding, idempotent inserts,
//!   paged scans, the integrity chain's storage, deletion and retention sweeps.
//! - [`durability`]: group commit; one flush serves every request waiting for it.
//! - [`rate_limit`]: ingest limits per client IP and per site key.
//! - [`chain`]: the integrity chain's hashing, entry encoding and verification
//!   (pure, no I/O).
//! - [`check`]: `collector --check`, the whole store's integrity, offline.
//! - [`compact`]: an event's stored form (without what its key and batch
//!   repeat) and back to its exact JSON (pure, no I/O).
//! - [`gaps`]: which sequence numbers stored gap records already report lost,
//!   and the per-session limit on gap records (pure, no I/O).
//! - [`retention`]: the background jobs: the sweep that deletes sessions past
//!   their age, and the integrity checkpoint.
//! - [`error`]: the JSON error every 4xx/5xx answer carries.
//! - [`telemetry`]: structured logs and the Prometheus metrics' names.

pub mod audit;
pub mod auth;
pub mod chain;
pub mod check;
pub mod compact;
pub mod config;
pub mod durability;
pub mod error;
pub mod gaps;
pub mod live;
pub mod openapi;
pub mod rate_limit;
pub mod retention;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenants;
