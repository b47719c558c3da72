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

/// Caps glibc's allocator at [`MALLOC_ARENAS`] arenas. Call first thing in
/// `main`, before any thread is spawned. Elsewhere than Linux with glibc, it
/// does nothing.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets one of glibc's allocator tunables; it is called
    // before any other thread exists, as glibc asks.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
}
