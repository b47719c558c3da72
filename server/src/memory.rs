//! The process's allocator settings. The server's memory bound (see
//! `docs/server.md`, "Limits") counts what requests hold; glibc's allocator
//! adds one arena per thread that allocates, up to eight per core, and under
//! a burst of large requests decoded on several threads each arena keeps its
//! own freed memory: measured on the hostile-load test, the peak resident size
//! is a third lower with two arenas (560 MiB against 860 MiB).
//!
//! Rust's allocations go to mimalloc instead (every binary linking this
//! crate): ingest builds and drops many small strings and JSON values a span
//! (protobuf decoding, attribute mapping), and glibc's allocator took a fifth
//! of ingest's CPU in `perf` (its frees consolidating chunks, large buffers
//! mapped and unmapped); mimalloc halves decoding and mapping
//! (docs/benchmarks.md). SQLite and zstd allocate through glibc's `malloc`,
//! which the arena cap still bounds.

/// The allocator of every binary linking this crate.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Arenas glibc's allocator may create.
pub const MALLOC_ARENAS: i32 = 2;

/// How long mimalloc keeps pages freed before giving them back to the OS, in
/// milliseconds. Its own default (1 s in mimalloc 3) kept about a second of
/// ingest's freed requests resident: at 90k history-heavy spans the peak
/// resident size was 204–211 MB for a heap that peaks near 72 MB
/// (`heaptrack`). 100 ms gives 161–168 MB for a few percent of CPU (pages
/// given back are faulted in again); 10 ms gives 120 MB but costs 10–15%
/// (docs/benchmarks.md). `MIMALLOC_PURGE_DELAY` in the environment still
/// overrides it.
pub const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// mimalloc's `mi_option_purge_delay` (its `mi_option_t` enum, the same in
/// mimalloc 2 and 3); the Rust bindings expose only the stable options.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[allow(unsafe_code)]
unsafe extern "C" {
    /// Sets an option unless the environment set it (mimalloc's API, in the
    /// library `mimalloc` links).
    fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Tunes the process's allocators: caps glibc's at [`MALLOC_ARENAS`] arenas
/// (elsewhere than Linux with glibc, that part does nothing) and sets
/// mimalloc's purge delay ([`PURGE_DELAY_MS`]). Call first thing in `main`,
/// before any thread is spawned.
pub fn tune_allocators() {
    // SAFETY: mi_option_set_default only stores a value in mimalloc's option
    // table; it is called before any other thread exists.
    #[allow(unsafe_code)]
    unsafe {
        mi_option_set_default(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets one of glibc's allocator tunables; it is called
    // before any other thread exists, as glibc asks.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
}
