//! Peak memory of the `polyai` binary at scale: through the Data API, a summaries export of N
//! conversations (a fresh run, then a re-run over the finished export, which holds every id as
//! done and walks the whole listing again) and `conversations list --all -O jsonl`; through the
//! Conversations API v3, an export (turns inline) and `conversations list --all -O json`; against
//! a `polyai-mock` serving N conversations (its default data).
//!
//! `cargo bench -p polyai-cli --bench memory`; N defaults to 1 000 000,
//! `POLYAI_BENCH_CONVERSATIONS=100000` for a shorter run. Peak RSS is the child's `ru_maxrss`
//! from `wait4` (Linux), exact whatever the sampling. Linux folds the high-water mark of the
//! process that spawned a child into the child's figure, so the mock server runs in a second
//! process (this bench run again with `POLYAI_BENCH_SERVE`) and this one stays small; its own
//! peak is printed as the floor below which no figure can go. Prints figures and the ratio to the
//! goals (48 MiB, 64 MiB for v3); asserts nothing about them.

// A bench program prints its figures itself (the CLI writes through its `output` module).
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use polyai_mock::{MockConfig, MockServer};

/// The goal for the Data API runs, in MiB (issue 9).
const GOAL_MIB: f64 = 48.0;
/// The goal for the Conversations API v3 runs, whose pages carry turns, in MiB (issue 28).
const GOAL_V3_MIB: f64 = 64.0;
/// Set in the server process: the number of conversations to serve.
const SERVE: &str = "POLYAI_BENCH_SERVE";

fn main() {
    if let Ok(n) = std::env::var(SERVE) {
        serve(n.parse().expect("conversation count"));
        return;
    }
    let n: u64 = std::env::var("POLYAI_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (mut server, base, key, agent, account) = start_server(n);
    println!(
        "peak RSS of polyai at {n} conversations ({} cores; goals {GOAL_MIB} MiB, v3 {GOAL_V3_MIB} MiB)",
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    let polyai = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_polyai"));
        cmd.env("POLYAI_API_KEY", &key)
            // The Data API, every environment: what these figures have measured since issue 9.
            .env("POLYAI_API", "data")
            .env("POLYAI_ENV", "all")
            .args(["--base-url", &base, "--agent", &agent])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let v3 = |args: &[&str]| {
        let mut cmd = polyai(args);
        cmd.env("POLYAI_API", "v3")
            .env("POLYAI_ACCOUNT_ID", &account);
        cmd
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path").to_owned();

    let fresh = measure(polyai(&["export", "--out", &out]));
    report("export (summaries), fresh", &fresh, GOAL_MIB);
    check_lines(dir.path(), n);
    let rerun = measure(polyai(&["export", "--out", &out]));
    report("export (summaries), re-run over it", &rerun, GOAL_MIB);
    check_lines(dir.path(), n);
    let list = measure(polyai(&[
        "conversations",
        "list",
        "--all",
        "--limit",
        "250",
        "-O",
        "jsonl",
    ]));
    report("conversations list --all -O jsonl", &list, GOAL_MIB);
    let v3_dir = tempfile::tempdir().expect("tempdir");
    let v3_out = v3_dir.path().to_str().expect("utf-8 path").to_owned();
    let export_v3 = measure(v3(&["export", "--out", &v3_out]));
    report("v3: export (turns inline), fresh", &export_v3, GOAL_V3_MIB);
    check_lines(v3_dir.path(), n);
    drop(v3_dir);
    let list_v3 = measure(v3(&["conversations", "list", "--all", "-O", "json"]));
    report(
        "v3: conversations list --all -O json",
        &list_v3,
        GOAL_V3_MIB,
    );
    let journal = std::fs::metadata(dir.path().join("conversations.jsonl")).map_or(0, |m| m.len());
    println!(
        "journal: {:.1} MiB ({:.0} bytes per conversation); this process peaked at {:.1} MiB (the floor)",
        journal as f64 / 1048576.0,
        journal as f64 / n.max(1) as f64,
        own_peak_kib() as f64 / 1024.0
    );
    drop(server.stdin.take());
    let _ = server.wait();
}

/// The server process: a mock with `n` conversations; prints its URL, key and agent, and
/// stops when its stdin closes.
fn serve(n: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(MockServer::start(
            MockConfig::default().conversations(n).agents(1),
        ))
        .expect("mock starts");
    println!(
        "{} {} {} {}",
        server.base_url(),
        server.key().expect("key"),
        server.agent_ids()[0],
        server.account_id()
    );
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    runtime.block_on(server.shutdown());
}

/// Starts the server process; returns it with its base URL, key, agent and account.
fn start_server(n: u64) -> (Child, String, String, String, String) {
    let mut child = Command::new(std::env::current_exe().expect("this bench"))
        .env(SERVE, n.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("server ready");
    let mut parts = line.split_whitespace().map(str::to_owned);
    let mut next = || parts.next().expect("url, key, agent and account");
    let (base, key, agent, account) = (next(), next(), next(), next());
    (child, base, key, agent, account)
}

/// This process's peak RSS in KiB since it started (`VmHWM`; `getrusage` would also count the
/// process that spawned it).
fn own_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Wall time and peak RSS (KiB) of one run.
struct Run {
    took: Duration,
    peak_kib: u64,
}

fn report(label: &str, run: &Run, goal_mib: f64) {
    let mib = run.peak_kib as f64 / 1024.0;
    println!(
        "{label:<38} {:>8.1} s  peak RSS {mib:>6.1} MiB  ({:.2}x the goal)",
        run.took.as_secs_f64(),
        mib / goal_mib
    );
}

/// Counts the journal's lines, streaming (this process must stay small).
fn check_lines(dir: &Path, n: u64) {
    let file = std::fs::File::open(dir.join("conversations.jsonl")).expect("journal");
    let lines = BufReader::with_capacity(1 << 16, file).split(b'\n').count() as u64;
    assert_eq!(lines, n, "the export holds {lines} of {n}");
}

/// Runs `cmd` to its end and reads its own peak RSS from `wait4`.
fn measure(mut cmd: Command) -> Run {
    let started = Instant::now();
    let mut child = cmd.spawn().expect("polyai starts");
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that `wait4` fills in; `pid` is our own child, reaped
    // here exactly once (`child` is not waited on afterwards).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = started.elapsed();
    assert_eq!(reaped, pid, "wait4 failed");
    let text = reader.join().unwrap_or_default();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "polyai failed: {text}"
    );
    drop(child);
    Run {
        took,
        peak_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    }
}
