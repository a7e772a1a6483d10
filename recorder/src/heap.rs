//! The page's allocator: size classes two per power of two, one free list
//! each.
//!
//! Hand-written rather than a crate because what a page downloads is the
//! recorder's first cost, and the allocator is the largest piece of code in
//! the module that is not the recorder's own: talc (the crate used before)
//! was 0.5 KB gzip more, and `lol_alloc`'s free list searches and merges in
//! time linear in the number of free blocks, on every allocation. Here both
//! `alloc` and `dealloc` are a few instructions, whatever the heap holds.
//!
//! - A block is `2^k` or `1.5 * 2^(k-1)` bytes (8, 12, 16, 24, 32, 48 ...),
//!   so it wastes at most a third of itself, and is aligned to the largest
//!   power of two that divides its size, up to 16. A layout goes to the
//!   smallest block that holds its size at its alignment ([`class_of`]); an
//!   alignment above 16 is refused with a null pointer, which Rust turns
//!   into an allocation failure (no recorder type asks for one).
//! - A freed block goes on its class's free list, its first word the link,
//!   and the next allocation of the class takes it back. Blocks never split
//!   or merge, so the heap is bounded by the most that was ever live in each
//!   class, and a page that cycles through the same sizes for hours (a
//!   bounded queue, events made and dropped) reuses the same blocks. The
//!   price is memory: a browser test that fills the queue to its bound with
//!   1 KB events peaks at 2.9 MB of wasm memory (1 MB of it the stack),
//!   against 2.4 MB with talc, which splits and merges blocks; power-of-two
//!   classes alone were 50 B smaller and peaked at 3.5 MB.
//! - New blocks come from the end of the heap, which grows by whole wasm
//!   pages; nothing else in the module grows the memory, so the new pages
//!   follow the old ones.
//!
//! The logic is [`Heap`], generic over where pages come from, so native tests
//! run it over a plain buffer; the page's allocator is [`Heap`] over
//! `memory.grow`.

// An allocator is unsafe code by nature; this module and `global.rs` are the
// crate's only unsafe code, each block with its reasons.
#![allow(unsafe_code)]

/// A wasm page.
pub const PAGE: usize = 65536;

/// Size classes up to 1 GiB (class 60); a larger request is refused.
const CLASSES: usize = 61;

/// The largest alignment a block is guaranteed.
const MAX_ALIGN: usize = 16;

/// Where new pages come from: `grow(pages)` returns the address of the first
/// new page, or `None` when the memory cannot grow.
pub trait Pages {
    fn grow(&self, pages: usize) -> Option<usize>;
}

/// The free lists and the unused end of the heap. Single-threaded: the page's
/// module has no threads, and the tests use one heap per test.
pub struct Heap<P> {
    free: [core::cell::Cell<usize>; CLASSES],
    next: core::cell::Cell<usize>,
    end: core::cell::Cell<usize>,
    pages: P,
}

/// The class of the smallest block that holds `size` bytes aligned to
/// `align`, or `None` when no block the heap hands out could: class `2k` is
/// `2^k` bytes, class `2k - 1` is `1.5 * 2^(k-1)` (from 12 bytes, `k = 4`).
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    if align > MAX_ALIGN || size > 1 << 30 {
        return None;
    }
    let need = size.max(align).max(8);
    let k = (usize::BITS - (need - 1).leading_zeros()) as usize;
    Some(if k >= 4 && need <= 3 << (k - 2) && align <= 1 << (k - 2) {
        2 * k - 1
    } else {
        2 * k
    })
}

/// A class's block size and alignment (see [`class_of`]).
pub fn block(class: usize) -> (usize, usize) {
    let k = class.div_ceil(2);
    let (size, power) = if class & 1 == 0 {
        (1 << k, 1 << k)
    } else {
        (3 << (k - 2), 1 << (k - 2))
    };
    (size, power.min(MAX_ALIGN))
}

impl<P: Pages> Heap<P> {
    pub const fn new(pages: P) -> Self {
        Heap {
            free: [const { core::cell::Cell::new(0) }; CLASSES],
            next: core::cell::Cell::new(0),
            end: core::cell::Cell::new(0),
            pages,
        }
    }

    /// A block of class `class`, or 0 when the memory cannot grow.
    ///
    /// # Safety
    /// Every block on a free list was handed out by this heap and freed once.
    pub unsafe fn take(&self, class: usize) -> usize {
        let free = &self.free[class];
        let head = free.get();
        if head != 0 {
            // SAFETY: a freed block's first word is the next free block of
            // its class (`give`), and blocks are at least 8 bytes (aligned
            // to 4 at least: read unaligned for the native tests' 8-byte
            // words, the same instruction in wasm).
            free.set(unsafe { (head as *const usize).read_unaligned() });
            return head;
        }
        let (size, align) = block(class);
        // `next` is at most `end`, which is page-aligned, so `at` is too and
        // `end - at` cannot overflow.
        let mut at = (self.next.get() + align - 1) & !(align - 1);
        if size > self.end.get() - at {
            // Enough for the block even when the new pages do not follow
            // ours; when they do, the rest stays for the next blocks.
            let pages = size.div_ceil(PAGE);
            let Some(start) = self.pages.grow(pages) else {
                return 0;
            };
            if start != self.end.get() {
                // The first pages, or pages after memory someone else grew:
                // page-aligned, so aligned for any block.
                at = start;
            }
            self.end.set(start + pages * PAGE);
        }
        self.next.set(at + size);
        at
    }

    /// Puts a block of class `class` back on its free list.
    ///
    /// # Safety
    /// `at` was handed out by [`Heap::take`] for `class` and is not used
    /// after this.
    pub unsafe fn give(&self, at: usize, class: usize) {
        let free = &self.free[class];
        // SAFETY: the block is ours and at least 8 bytes (see `take`).
        unsafe { (at as *mut usize).write_unaligned(free.get()) };
        free.set(at);
    }
}

// SAFETY: a page's module without `atomics` has one thread, so the `Cell`s
// are never touched from two.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<P> Sync for Heap<P> {}

// SAFETY (the impl): the heap's state is `Cell`s, touched only by the one
// thread a page's module has; `alloc` hands out blocks of the layout's class,
// which hold its size at its alignment (`class_of`), and `dealloc` receives
// the layout the block was allocated with, so it finds the same class; so
// does `GlobalAlloc`'s own `realloc`, which takes a new block, copies and
// frees the old one. (A `realloc` that kept a block whose class the new size stays in
// would cost 43 B gzip and rarely apply: a growing `Vec` doubles, which
// always crosses a class.)
unsafe impl<P: Pages> core::alloc::GlobalAlloc for Heap<P> {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        match class_of(layout.size(), layout.align()) {
            // SAFETY: see the impl.
            Some(class) => unsafe { self.take(class) as *mut u8 },
            None => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        if let Some(class) = class_of(layout.size(), layout.align()) {
            // SAFETY: see the impl.
            unsafe { self.give(ptr as usize, class) }
        }
    }
}

/// The page's pages: `memory.grow` on memory 0.
#[cfg(target_family = "wasm")]
pub struct WasmPages;

#[cfg(target_family = "wasm")]
impl Pages for WasmPages {
    fn grow(&self, pages: usize) -> Option<usize> {
        // The heap's end must stay an address: refuse the memory's last
        // page (4 GiB), whose end would wrap to 0.
        if core::arch::wasm32::memory_size(0) + pages >= 1 << 16 {
            return None;
        }
        match core::arch::wasm32::memory_grow(0, pages) {
            usize::MAX => None,
            old => Some(old * PAGE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::alloc::{GlobalAlloc, Layout};
    use std::cell::Cell;

    /// Pages from one leaked buffer, `limit` pages at most; `grow` answers
    /// page-aligned addresses, as `memory.grow` does.
    struct Buffer {
        base: usize,
        used: Cell<usize>,
        limit: usize,
    }

    impl Buffer {
        fn new(limit: usize) -> Self {
            let bytes = vec![0u8; (limit + 1) * PAGE].leak();
            let base = (bytes.as_ptr() as usize).next_multiple_of(PAGE);
            Buffer {
                base,
                used: Cell::new(0),
                limit,
            }
        }
    }

    impl Pages for Buffer {
        fn grow(&self, pages: usize) -> Option<usize> {
            let used = self.used.get();
            if used + pages > self.limit {
                // `memory.grow` fails the same way, past the maximum.
                return None;
            }
            self.used.set(used + pages);
            Some(self.base + used * PAGE)
        }
    }

    /// Every layout up to 70,000 bytes gets the smallest block that holds
    /// its size at its alignment.
    #[test]
    fn classes_are_the_smallest_block_that_holds_the_layout() {
        let fits = |c: usize, size: usize, align: usize| {
            let (bytes, aligned) = block(c);
            bytes >= size.max(8) && aligned >= align
        };
        for align in [1, 2, 4, 8, 16] {
            for size in 0..70_000 {
                let c = class_of(size, align).unwrap();
                assert!(fits(c, size, align), "{size} at {align} in class {c}");
                let smaller =
                    (6..CLASSES).find(|&d| block(d).0 < block(c).0 && fits(d, size, align));
                assert_eq!(
                    smaller, None,
                    "{size} at {align}: class {c} is not the smallest"
                );
            }
        }
        let sizes: Vec<usize> = (6..CLASSES).map(|c| block(c).0).collect();
        assert_eq!(sizes[..8], [8, 12, 16, 24, 32, 48, 64, 96]);
        assert_eq!(class_of(12, 4), Some(7));
        assert_eq!(
            class_of(12, 8),
            Some(8),
            "12 bytes at 8 need the 16-byte block"
        );
        assert_eq!(block(CLASSES - 1).0, 1 << 30);
        assert_eq!(class_of(1 << 30, 1), Some(CLASSES - 1));
        assert_eq!(class_of((1 << 30) + 1, 1), None);
        assert_eq!(class_of(8, 32), None);
    }

    /// Random allocations, reallocations and frees: every block is aligned,
    /// holds its size, and never overlaps a live one (each live block is
    /// filled with its own byte and checked before it is freed).
    #[test]
    fn blocks_are_aligned_and_never_overlap() {
        let heap = Heap::new(Buffer::new(1024));
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..20_000u32 {
            let tag = (round % 251) as u8 + 1;
            match rand(3) {
                0 | 1 if live.len() < 400 => {
                    let size = [0, 1, 7, 8, 9, 24, 100, 1000, 5000, 70_000][rand(10) as usize];
                    let align = [1, 2, 4, 8, 16][rand(5) as usize];
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let p = unsafe { heap.alloc(layout) };
                    assert!(!p.is_null(), "out of memory at round {round}");
                    assert_eq!(p as usize % align, 0);
                    unsafe { p.write_bytes(tag, size) };
                    live.push((p, layout, tag));
                }
                2 if !live.is_empty() && rand(2) == 0 => {
                    let i = rand(live.len() as u64) as usize;
                    let (p, layout, tag) = live[i];
                    let size = rand(3000) as usize;
                    let q = unsafe { heap.realloc(p, layout, size) };
                    assert!(!q.is_null());
                    let kept = layout.size().min(size);
                    let bytes = unsafe { std::slice::from_raw_parts(q, kept) };
                    assert!(bytes.iter().all(|&b| b == tag), "realloc lost data");
                    let layout = Layout::from_size_align(size, layout.align()).unwrap();
                    unsafe { q.write_bytes(tag, size) };
                    live[i] = (q, layout, tag);
                }
                _ if !live.is_empty() => {
                    let (p, layout, tag) = live.swap_remove(rand(live.len() as u64) as usize);
                    let bytes = unsafe { std::slice::from_raw_parts(p, layout.size()) };
                    assert!(
                        bytes.iter().all(|&b| b == tag),
                        "a live block was overwritten"
                    );
                    unsafe { heap.dealloc(p, layout) };
                }
                _ => {}
            }
        }
        for (p, layout, tag) in live {
            let bytes = unsafe { std::slice::from_raw_parts(p, layout.size()) };
            assert!(
                bytes.iter().all(|&b| b == tag),
                "a live block was overwritten"
            );
        }
    }

    /// Hours of the same churn stay in the pages the first minutes took: freed
    /// blocks are reused, not left behind.
    #[test]
    fn churn_reuses_freed_blocks() {
        let heap = Heap::new(Buffer::new(64));
        let layouts = [
            Layout::new::<[u8; 40]>(),
            Layout::from_size_align(900, 1).unwrap(),
        ];
        for _ in 0..100_000 {
            for layout in layouts {
                let p = unsafe { heap.alloc(layout) };
                assert!(!p.is_null());
                unsafe { heap.dealloc(p, layout) };
            }
        }
        assert_eq!(heap.pages.used.get(), 1);
    }

    /// Reallocation keeps the bytes, and a heap that cannot grow answers
    /// null, as does an alignment above 16.
    #[test]
    fn realloc_keeps_the_bytes_and_null_when_out_of_pages() {
        let heap = Heap::new(Buffer::new(2));
        let layout = Layout::from_size_align(20, 1).unwrap();
        let p = unsafe { heap.alloc(layout) };
        unsafe { p.write_bytes(7, 20) };
        let q = unsafe { heap.realloc(p, layout, 33) };
        assert_ne!(q, p);
        assert!(unsafe { std::slice::from_raw_parts(q, 20) }
            .iter()
            .all(|&b| b == 7));
        let big = Layout::from_size_align(3 * PAGE, 1).unwrap();
        assert!(unsafe { heap.alloc(big) }.is_null());
        assert!(unsafe { heap.alloc(Layout::from_size_align(8, 32).unwrap()) }.is_null());
    }
}
