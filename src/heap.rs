//! Heap settings for the one-shot commands that read thousands of blobs on all cores (`report`,
//! `diff`). The service keeps glibc's defaults: freed memory goes back, pages stay small.

/// Sets the heap [`parameters`] and starts the thread pool with [`huge_pages_for_this_thread`]
/// on each worker. Called before anything uses the pool.
pub fn tune_for_batch() {
    parameters();
    // Fails only if the pool already exists; it then runs without the hint.
    let _ = rayon::ThreadPoolBuilder::new()
        .start_handler(|_| huge_pages_for_this_thread())
        .build_global();
}

/// Keeps 16 MiB of slack at the top of each heap instead of glibc's 128 KiB: these commands
/// allocate and free blob-sized buffers by the thousand, and glibc grew and shrank the threads'
/// heaps a few pages at a time (2,244 mprotect calls for `diff` of a 1,300-file change, 719 for
/// a func report of client-go; none with the slack): 6% of each command's time in alternating
/// runs. Slack never touched costs no memory.
///
/// And serves blocks up to 32 MiB from the heaps, not from a mapping of their own: a mapped
/// block is fresh pages every time (and small ones, see [`huge_pages_for_this_thread`]), for
/// the few large blobs as for the block that fills a heap's first 2 MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn parameters() {
    // SAFETY: mallopt sets an allocator parameter under glibc's own lock; no memory is passed.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn parameters() {}

/// The size and alignment of the heaps glibc's malloc maps for threads other than the main one
/// on 64-bit targets (`HEAP_MAX_SIZE`: twice the largest mmap threshold, 32 MiB).
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
const THREAD_HEAP: usize = 64 << 20;

/// A size malloc serves from the thread's own arena: above the thread cache's largest size
/// (1,032 bytes), which can hold chunks of other arenas freed by this thread.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
const PROBE: usize = 4096;

/// The size of a transparent huge page on x86-64 and (with 4 KiB pages) aarch64.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel for transparent huge pages in the calling thread's malloc heap, as glibc
/// does for every heap with the `glibc.malloc.hugetlb=1` tunable (which only the environment
/// at process start can set).
///
/// Why: the worker threads' heaps keep moving into fresh memory (each blob read allocates
/// zlib's 40 KiB inflate state; the texts kept for later land between the freed buffers), and
/// every fresh 4 KiB page is a fault the kernel takes and clears: 5,200 faults, a sixth of the
/// CPU of `diff` on a 1,300-file change, 2,000 for a func report of client-go. See README,
/// Performance, for the measured effect (and the 6-7 MB more resident memory: huge pages are
/// whole). Where the kernel's THP setting is `never` the pages stay small; where the heap is
/// not where glibc's layout puts it, this stops at the first check that fails. Contents and
/// protections never change; the one allocation it keeps is never written beyond its header.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
fn huge_pages_for_this_thread() {
    // SAFETY: malloc and free of one block; sbrk(0) only reads the program break; madvise with
    // MADV_HUGEPAGE changes neither contents nor protection. If the range is not all mapped
    // (not a glibc heap), madvise fails and nothing more is done; what it may have marked in
    // it changes only the size of the pages the kernel gives it.
    unsafe {
        let probe = std::hint::black_box(libc::malloc(PROBE));
        if probe.is_null() {
            return;
        }
        let at = probe as usize;
        libc::free(probe);
        // The main arena lives below the program break; a thread arena's heap is a mapping
        // aligned to its size, which the probe's address rounds down to.
        let brk = libc::sbrk(0) as usize;
        if at < brk {
            return;
        }
        let heap = at & !(THREAD_HEAP - 1);
        if libc::madvise(heap as *mut libc::c_void, THREAD_HEAP, libc::MADV_HUGEPAGE) != 0 {
            return;
        }
        skip_first_huge_page(heap, at);
    }
}

/// The heap's first 2 MiB already has small pages (the arena's header, the probe), so the
/// kernel will not put a huge page there: one allocation that stays for good takes up the rest
/// of it, and the heap continues on huge pages. Only its header is written, on the probe's
/// page; the rest of it is never touched and costs no memory.
///
/// `probe` is where the freed probe was: glibc merged its chunk back into the top of the heap,
/// which the allocation is carved from. If it is not where that predicts, it is freed again.
#[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
fn skip_first_huge_page(heap: usize, probe: usize) {
    /// A chunk's header before the memory malloc returns.
    const HEADER: usize = 16;
    let top = probe - HEADER;
    let Some(size) = (heap + HUGE_PAGE).checked_sub(top) else {
        return;
    };
    if size < 2 * HEADER {
        return;
    }
    // A request of `size - 8` is a chunk of exactly `size` (16-byte multiples), served from the
    // heap since the mmap threshold is above it ([`parameters`]).
    // SAFETY: a plain allocation, kept for the life of the process or freed at once.
    unsafe {
        // Opaque to the optimizer, which would otherwise drop an allocation nothing reads.
        let filler = std::hint::black_box(libc::malloc(size - 8));
        if !filler.is_null() && filler as usize != probe {
            libc::free(filler);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64")))]
fn huge_pages_for_this_thread() {}
