//! What a hostile BFD can make the client hold is bounded by
//! `max_beneficiary_bytes`, whatever it sends: measured with a counting global
//! allocator (this test binary's own), over real HTTP on 127.0.0.1.
//!
//! One test in this file: the counters are process-wide.

mod bfd_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

/// The system allocator, counting the bytes live now and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

#[actix::test]
async fn endless_huge_pages_hold_no_more_than_the_bound() {
    let claims = synthetic(5, 5.0);
    let hostile = "-19990000000007";
    // 2 MiB pages forever, as in the 40 pages of 30 MB, smaller.
    let stub = StubServer::start(
        stub_config(claims.clone())
            .fault(hostile, Fault::new(FaultKind::HugePages(2 * MIB as u64))),
    )
    .unwrap();
    let bound = 16 * MIB;
    let bfd = source(
        client(&stub.url())
            .max_response_bytes(4 * MIB as u64)
            .max_beneficiary_bytes(bound as u64),
    );
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let error = fetch(&bfd, hostile).await.unwrap_err();
    let held = PEAK.load(Relaxed).saturating_sub(before);

    assert_eq!(error.code, "too-costly", "{error}");
    assert!(error.message.contains("max_beneficiary_bytes"), "{error}");
    // Eight pages fill the bound exactly; the ninth is refused unread.
    assert_eq!(stub.stats().requests_for(hostile), 9);
    // The pages were held (the measure sees them) ...
    assert!(held >= 14 * MIB, "held only {} bytes", held);
    // ... and never more than the bound, one page being parsed, and a little
    // for the HTTP machinery of both ends.
    assert!(
        held <= bound + 2 * 2 * MIB + 4 * MIB,
        "held {:.1} MiB with a bound of 16 MiB",
        held as f64 / MIB as f64
    );
    stub.stop().await;
}
