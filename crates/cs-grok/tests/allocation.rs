//! Matching borrows from the line: no heap allocation for lines that do not match, nor for
//! matches of patterns with few fields.

// Counting allocations needs a global allocator, which is an `unsafe impl`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cs_grok::Patterns;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl Fn()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// The only test of this binary, so no other test thread allocates meanwhile.
#[test]
fn matching_does_not_allocate() {
    let patterns = Patterns::builtin();
    let grok = patterns.compile_named("SSHD_FAIL").unwrap();
    let hit = "Failed password for root from 192.168.13.37 port 40188 ssh2";
    // Rejected by the literal prefilter, and rejected by the regex itself.
    let misses = [
        "session opened for user root",
        "Failed password for root from nowhere port 1 ssh2",
    ];
    // The first searches create the regex engines' per-thread caches and the lazy DFA
    // states these lines need (allocated once, then reused). A line goes to the lazy DFA
    // or straight to the backtracker depending on whether the previous line matched, so
    // each engine gets to see each line.
    for _ in 0..2 {
        assert!(grok.captures(hit).is_some());
    }
    for _ in 0..2 {
        assert!(misses.iter().all(|line| grok.captures(line).is_none()));
    }

    let n = allocations_during(|| {
        for _ in 0..100 {
            for line in misses {
                assert!(grok.captures(line).is_none());
            }
        }
    });
    assert_eq!(n, 0, "allocations for non-matching lines");

    let n = allocations_during(|| {
        for _ in 0..100 {
            let caps = grok.captures(hit).unwrap();
            assert_eq!(caps.get("sshd_client_ip"), Some("192.168.13.37"));
        }
    });
    assert_eq!(n, 0, "allocations for matching lines");
}
