//! Test support: a global allocator that counts what each thread allocates,
//! so that tests can show that a hot path allocates nothing, or little.
//!
//! The counters are `const` thread locals without a destructor, which the
//! allocator may use without allocating.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// What one thread allocated while a closure ran (see [`measure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Allocations made.
    pub allocations: usize,
    /// The most bytes allocated by the thread and not yet freed at once,
    /// beyond what it held when the closure started.
    pub peak_bytes: usize,
    /// Blocks freed (wherever they were allocated).
    pub deallocations: usize,
}

/// Runs `f` and tells what this thread allocated meanwhile. A reallocation
/// counts as one allocation, of the bytes it adds: the system allocator
/// resizes in place when it can, and moves a large block by remapping it,
/// so that shrinking never holds both sizes at once.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let (allocations, deallocations, live) = (
        ALLOCATIONS.with(Cell::get),
        DEALLOCATIONS.with(Cell::get),
        LIVE.with(Cell::get),
    );
    let outer_peak = PEAK.with(|peak| peak.replace(live));
    let result = f();
    let peak = PEAK.with(|peak| peak.replace(outer_peak.max(peak.get())));
    let usage = Usage {
        allocations: ALLOCATIONS.with(Cell::get) - allocations,
        peak_bytes: usize::try_from(peak - live).unwrap_or(0),
        deallocations: DEALLOCATIONS.with(Cell::get) - deallocations,
    };
    (result, usage)
}

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static DEALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
            let live = LIVE.with(|live| {
                live.set(live.get() + layout.size() as isize);
                live.get()
            });
            PEAK.with(|peak| peak.set(peak.get().max(live)));
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        DEALLOCATIONS.with(|count| count.set(count.get() + 1));
        LIVE.with(|live| live.set(live.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
            let live = LIVE.with(|live| {
                live.set(live.get() + new_size as isize - layout.size() as isize);
                live.get()
            });
            PEAK.with(|peak| peak.set(peak.get().max(live)));
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;
