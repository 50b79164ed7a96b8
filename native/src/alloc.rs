//! Large allocations on transparent huge pages.
//!
//! The node index's location table holds tens of millions of entries (about 570 MB at
//! ten million accounts) and every block probes it at random some 200,000 times. On
//! 4 KiB pages nearly every probe also misses the TLB and walks the page tables; on
//! 2 MiB pages the walk mostly hits. Linux hands huge pages only to memory advised
//! for them (the `madvise` setting most distributions ship), so large allocations
//! are advised here: those above 32 MiB, which glibc always maps on their own
//! (its dynamic mmap threshold stops there). Smaller ones may be carved from the
//! heap, where the advice would outlive the buffer it was meant for.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_int, c_void};

/// glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit).
const ADVISED_FROM: usize = 32 << 20;
const PAGE: usize = 4096;
const MADV_HUGEPAGE: c_int = 14;
const MADV_NOHUGEPAGE: c_int = 15;

extern "C" {
    fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
}

pub struct HugeTables;

fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size <= ADVISED_FROM || !cfg!(target_os = "linux") {
        return;
    }
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + size) & !(PAGE - 1);
    if end > start {
        // Advice only: where the kernel refuses (THP disabled), the pages stay small.
        unsafe { madvise(start as *mut c_void, end - start, MADV_HUGEPAGE) };
    }
}

unsafe impl GlobalAlloc for HugeTables {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        advise(ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        advise(moved, new_size);
        moved
    }
}

/// Keep `len` bytes from `ptr` on small pages: memory written sparsely (an upper level
/// of a small tree), where each huge page would be made resident by one write.
pub fn small_pages(ptr: *const u8, len: usize) {
    if ptr.is_null() || !cfg!(target_os = "linux") {
        return;
    }
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + len) & !(PAGE - 1);
    if end > start {
        unsafe { madvise(start as *mut c_void, end - start, MADV_NOHUGEPAGE) };
    }
}
