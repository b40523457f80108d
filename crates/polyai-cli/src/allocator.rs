//! Settings of glibc's allocator for the commands whose memory or speed they bound
//! (BENCHMARKS.md). Every other command keeps glibc's defaults; elsewhere than on glibc these do
//! nothing. A setting the user gave in the environment (`MALLOC_ARENA_MAX=…`) is kept.

/// For a long walk that hands records from thread to thread (the JSONL export), set before
/// any thread starts: one arena instead of one per thread (up to eight per core), each of which
/// keeps the high-water mark of what its thread ever held; and a fixed threshold of 256 KiB
/// above which a block is its own mapping, returned to the system when freed (glibc otherwise
/// raises the threshold to the largest block freed, so each listing page of several MB
/// is carved from an arena and the arena's top is left fragmented). A v3 export of 1M
/// conversations peaks at ~50 MiB with them, ~70 MiB without.
pub fn for_streaming() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets parameters of glibc's allocator, both valid at any time (an
    // arena made before stays in use; the threshold applies to later allocations), with valid
    // values (1 arena; a threshold under glibc's 32 MiB maximum).
    unsafe {
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
        }
    }
}

/// For writing Parquet: no "fast bins". Parquet allocates and frees a zstd context of
/// ~160 KiB for every column chunk it writes, and glibc consolidates every fast bin at each free
/// of such a block: a third of the writer thread's time before this (BENCHMARKS.md); without
/// fast bins there is nothing to consolidate. Small blocks still come from the per-thread
/// caches.
pub fn for_parquet() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; M_MXFAST may be changed at any
    // time (glibc consolidates the fast bins first), and 0 is a valid value (no fast bins).
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}
