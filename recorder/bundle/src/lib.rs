//! The module a page downloads: the recorder (`cotrail-recorder`) linked
//! without `std`.
//!
//! It is a crate of its own because the panic handler below must not exist
//! when `std` is linked (the recorder's tests link it through
//! wasm-bindgen-test, and two panic handlers do not link). `xtask build` builds
//! this crate with the `wasm-release` profile and runs wasm-bindgen on it.
//!
//! Build it on its own (`cargo xtask build`, or `cargo build -p
//! cotrail-recorder-bundle --target wasm32-unknown-unknown`): in one cargo
//! invocation with the recorder's tests for wasm32 (`--workspace --tests`),
//! feature unification brings `std` in and the two panic handlers clash.

#![no_std]

// The recorder's `#[wasm_bindgen]` exports (`start`, `stop`, `recordCustom` ...)
// are linked into this module through the re-export.
pub use cotrail_recorder::*;

/// A panic traps (the wasm `unreachable` instruction), as `panic = "abort"`
/// did under `std`, without linking `std`'s panic hook and the formatting code
/// behind its message, which nobody could read in the page anyway. The trap
/// surfaces in the browser as a `RuntimeError` in the listener that hit it and
/// stops nothing else on the page.
#[cfg(target_family = "wasm")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
