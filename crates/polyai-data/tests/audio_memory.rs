//! A multi-hundred-megabyte recording is saved with flat memory.
//!
//! Alone in its own test binary so that no other test's allocations move the process's peak
//! resident set size (`VmHWM`), which is reset before the download (`/proc/self/clear_refs`).

mod support;

use support::{Recorded, Reply, TestServer, client_for};

const SIZE: u64 = 320 * 1024 * 1024;
const ALLOWED_GROWTH_KIB: u64 = 48 * 1024;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_download_is_streamed_with_flat_memory() {
    if status_kib("VmHWM:").is_none() {
        eprintln!("no /proc/self/status here; skipping the memory measurement");
        return;
    }
    let server = TestServer::start(|_: &Recorded| Reply::wav(SIZE)).await;
    let (client, _) = client_for(&server, "k");
    let dir = tempfile::tempdir().expect("tempdir");
    // Warm up pools, buffers and the allocator on a small download first.
    let warm = dir.path().join("warm.wav");
    let server_small = TestServer::start(|_: &Recorded| Reply::wav(4 * 1024 * 1024)).await;
    let (small, _) = client_for(&server_small, "k");
    small
        .agent("A")
        .audio("W")
        .await
        .expect("warm")
        .save_to(&warm)
        .await
        .expect("warm save");

    // Reset the peak to the current RSS (Linux >= 4.0); fall back to the current peak.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmHWM:").expect("VmHWM");
    let target = dir.path().join("big.wav");
    let mut calls = 0u64;
    let saved = client
        .agent("A")
        .audio("BIG")
        .await
        .expect("download")
        .save_to_with_progress(&target, |_| calls += 1)
        .await
        .expect("saved");
    let after = status_kib("VmHWM:").expect("VmHWM");
    assert_eq!(saved.bytes, SIZE);
    assert_eq!(std::fs::metadata(&target).map(|m| m.len()).ok(), Some(SIZE));
    let growth = after.saturating_sub(before);
    eprintln!(
        "peak RSS growth while saving {} MiB: {growth} KiB ({calls} progress calls)",
        SIZE >> 20
    );
    assert!(
        growth < ALLOWED_GROWTH_KIB,
        "peak RSS grew by {growth} KiB for a {} MiB body",
        SIZE >> 20
    );
}
