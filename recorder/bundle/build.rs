//! Links the module with a stack of 960 KiB instead of rustc's 1 MiB.
//!
//! The stack comes first in memory (it grows down from its size towards 0,
//! where overflowing it traps), the data after it. At 1 MiB the data's
//! addresses start at 2^20, one past the largest number a 3-byte `i32.const`
//! holds, so every address of a string, vtable or static in the code took 4
//! bytes; 64 KiB less stack puts the data (about 7 KB) and the statics below
//! 2^20, and each of them takes 3 (raw -0.7 KB, gzip -50 B). No function of
//! the module calls itself (checked in its disassembly when this was set), so
//! its stack is as deep as its longest call chain, far from either size.

fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=983040");
}
