//! Peak memory of the commands that walk a whole listing, against the mock: `sync`, `export`
//! and `conversations list --all -O json`, through the Data API and v3, each under a bound.
//!
//! Each command runs as its own process (the test binary's `polyai`, a debug build under
//! `cargo test`, with two runtime workers whatever the machine) and its peak resident set is the
//! kernel's own figure (`ru_maxrss` from `wait4`), so nothing is sampled and nothing is timed. The mock runs in this process. A
//! path that holds the listing (or a page's records several times over) grows with the
//! conversations and fails here with the measured figure, instead of waiting for the next run
//! of `scripts/bench-sync.sh`. BENCHMARKS.md ("Memory bounds in CI") gives the figures measured
//! when the bounds were set.

#![cfg(target_os = "linux")]

mod common;

use std::fs::File;
use std::path::Path;
use std::process::Stdio;

use common::Mock;

/// Conversations of the mock: enough that a path holding every conversation (at 20 000 before
/// they streamed, `list --all -O json` took 118 MB) or a page of 1000 several times over (a v3
/// sync: 142 MB) is far above its bound, few enough that the runs take seconds in a debug
/// build.
const CONVERSATIONS: u64 = 10_000;

/// Conversations of the Data API sync's own mock: it reads each conversation's detail, one
/// request each (10 000 take 40 s in a debug build); its pages are 250 summaries.
const DATA_SYNC_CONVERSATIONS: u64 = 2_000;

/// Runs `polyai` against `mock` with `args`, stdout to a file in `dir`, and returns its peak
/// resident set in MiB; fails the test when it does not succeed.
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by `wait4`, which also reports its peak memory"
)]
fn peak_mib(mock: &Mock, dir: &Path, label: &str, args: &[&str]) -> f64 {
    let out = File::create(dir.join(format!("{label}.out"))).expect("stdout file");
    let err_path = dir.join(format!("{label}.err"));
    let err = File::create(&err_path).expect("stderr file");
    let mut cmd = mock.std_polyai();
    cmd.args(["--account", mock.server().account_id()])
        .args(args)
        // Two runtime workers whatever the machine: each thread that allocates may keep an
        // allocator arena of its own, so the peak depends on their number.
        .env("TOKIO_WORKER_THREADS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let started = std::time::Instant::now();
    let child = cmd.spawn().expect("polyai starts");
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills; all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not waited for yet (`child` is never waited on, and
    // dropping a `Child` neither waits nor kills); both pointers are to live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(
        exited_ok,
        "{label}: polyai {args:?} failed (status {status}):\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    // Linux reports kibibytes.
    let mib = usage.ru_maxrss as f64 / 1024.0;
    eprintln!(
        "{label}: {mib:.1} MiB in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    mib
}

/// Asserts every `(label, measured, bound)` is within its bound, naming all that are not.
fn assert_within(results: &[(&str, f64, f64)]) {
    for (label, mib, bound) in results {
        eprintln!("{label}: peak RSS {mib:.1} MiB (bound {bound} MiB)");
    }
    let over: Vec<String> = results
        .iter()
        .filter(|(_, mib, bound)| mib > bound)
        .map(|(label, mib, bound)| format!("{label}: {mib:.1} MiB > {bound} MiB"))
        .collect();
    assert!(
        over.is_empty(),
        "peak memory over its bound at {CONVERSATIONS} conversations (a path holds what it \
         should stream?): {}",
        over.join("; ")
    );
}

#[test]
fn whole_listing_paths_stay_within_their_memory_bounds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_text = dir.path().to_str().expect("a UTF-8 temporary folder");
    let small = Mock::with_conversations(DATA_SYNC_CONVERSATIONS);
    let mock = Mock::with_conversations(CONVERSATIONS);
    // Every environment (the most pages), default page sizes (v3: 1000 with their turns). The
    // bounds, in MiB, over the peaks measured when they were set (debug build, 2-core machine;
    // BENCHMARKS.md, "Memory bounds in CI"): a margin of a quarter or more for the allocator's
    // arenas, which vary from run to run, and well under what the regressions took.
    let runs: [(&Mock, &str, f64); 6] = [
        // 41.4–42.7 MiB: pages of 250, a detail at a time (41.8 MiB at 10 000).
        (&small, "sync --api data --db {dir}/data.db", 60.0),
        // 57.1–61.3 MiB: a page at a time, read as text; 124 MiB with the page prefetch back.
        (&mock, "sync --api v3 --db {dir}/v3.db", 80.0),
        // 39.4–40.1 MiB (43.0–44.9 with pages made records whole; 56.8–65.5 with pages held as
        // JSON trees); it grows with the listing (its done-set).
        (&mock, "export --api data --out {dir}/export-data", 60.0),
        // 44.6–45.4 MiB since a page waits as text and each conversation is made a record as
        // it is queued, with the JSONL export's allocator settings (69.2–69.7 before; 85.4–87.7
        // with pages held as JSON trees).
        (&mock, "export --api v3 --out {dir}/export-v3", 60.0),
        // 39.8–40.9 MiB (58.1–62.8 before).
        (&mock, "conversations list --api data --all -O json", 55.0),
        // 60.1–60.7 MiB (104.6–106.2 before).
        (&mock, "conversations list --api v3 --all -O json", 80.0),
    ];
    let mut results = Vec::new();
    for (i, (mock, command, bound)) in runs.into_iter().enumerate() {
        let mut args: Vec<String> = command
            .split(' ')
            .map(|word| word.replace("{dir}", dir_text))
            .collect();
        args.extend(["--env".to_owned(), "all".to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mib = peak_mib(mock, dir.path(), &format!("run-{i}"), &args);
        results.push((command, mib, bound));
    }
    assert_within(&results);
}
