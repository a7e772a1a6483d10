//! Wire types shared by the cotrail recorder and collector.
//!
//! Only this crate defines what travels between a page and the collector, so both
//! sides agree by construction. Nothing here does I/O; it builds for `wasm32` and
//! native alike.
//!
//! - [`ids`]: validated identifiers (`SessionId`, `TabId`, `AgentId`) that cannot
//!   exist in an invalid state past deserialisation.
//! - [`event`]: the seven co-browsing event types with the seed's exact names,
//!   the actor, and the batch a recorder sends.
//! - [`limits`]: the limits both sides enforce, each with the reason for its value.
//! - [`api`]: what the collector answers (stored records, session summaries, errors).
//! - [`audit`]: platform audit records (the 14 seed types) and the activity log
//!   entries the collector serves.
//!
//! With the `openapi` feature (the collector's, never the recorder's) the wire
//! types also derive `utoipa::ToSchema`, so the collector's OpenAPI document
//! describes exactly these types.
//!
//! The format is versioned by [`WIRE_VERSION`]: fields and variants are added,
//! never renamed. Golden fixtures under `tests/fixtures` guard that promise.
//!
//! `no_std` (with `alloc`) so the recorder's wasm bundle links no `std`: its
//! panic machinery and formatting code were a large part of what every page
//! downloads. The collector's `openapi` feature and the tests bring `std` back.

#![cfg_attr(not(any(test, feature = "openapi")), no_std)]

extern crate alloc;

/// The `alloc` names the modules use, imported explicitly so they also build
/// without `std`'s prelude (with `std` some of them go unused).
#[allow(unused_imports)]
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

pub mod api;
pub mod audit;
pub mod event;
pub mod ids;
pub mod limits;

pub use event::{
    char_count, json_depth, truncate_chars, Actor, Batch, ClickData, CustomData, ElementRef, Event,
    EventData, EventType, FormData, Gap, GapReason, InputData, LimitError, MaskReason, Navigation,
    PageChangeData, ScrollData, SelectionData,
};
pub use ids::{AgentId, IdError, SessionId, TabId, TenantId, UserId};

/// Version of the batch format. A collector accepts every version up to its own.
pub const WIRE_VERSION: u32 = 1;
