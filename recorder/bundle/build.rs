//! Links the module with a stack of 960 KiB instead of rustc's 1 MiB.
//!
//! The stack comes first in memory (it grows down from its size towards 0,
//! where overflowing it traps), the data after it. At 1 MiB the data's
//! addresses start at 2^20, one past the largest number a 3-byte `i32.const`
//! holds, so every address of a string, vtable or static in the code took 4
//! bytes; 64 KiB less stack puts the data (about 7 KB) and the statics below
//! 2^20, and each of them takes 3 (raw -0.7 KB, gzip -50 B). The recorder's
//! call chains are short: its one recursion (hooking shadow roots nested in
//! shadow roots, `element::watch_root`) goes as deep as a page nests
//! components, a few frames of a few hundred bytes each, far from either
//! size.

fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=983040");
}
