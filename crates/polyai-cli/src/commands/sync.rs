//! `sync`: keeps a SQLite copy of an agent's conversations current, through
//! [`polyai_store`].

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polyai_store::{Api, Store, SyncCounts, SyncError, SyncReport, SyncStatus, Syncer};

use crate::cli::{OutputFormat, SyncArgs};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::signals;

/// `sync`.
pub async fn run(ctx: &Ctx<'_>, args: &SyncArgs) -> Result<(), CliError> {
    #[cfg(feature = "dataset")]
    if let (Some(_), [first, ..]) = (&args.db, &args.dataset.given()[..]) {
        return Err(CliError::Usage(format!(
            "{first} is an option of a dataset (sync --to DIR_OR_URL), not of --db"
        )));
    }
    let db = match (&args.db, &args.to) {
        (Some(db), _) => db,
        #[cfg(feature = "dataset")]
        (None, Some(to)) => return crate::export::dataset::sync(ctx, args, to).await,
        #[cfg(not(feature = "dataset"))]
        (None, Some(_)) => {
            return Err(CliError::Usage(
                "sync --to needs a polyai built with the `dataset` feature (the default); use \
                 --db FILE"
                    .into(),
            ));
        }
        (None, None) => {
            return Err(CliError::Usage(
                "sync needs --db FILE (a SQLite database) or --to DIR_OR_URL (a dataset)".into(),
            ));
        }
    };
    let agent = ctx.session.agent()?;
    let source = crate::source::Source::choose(ctx.session, &args.source, &[])?;
    let api = match &source.account {
        Some(account_id) => Api::V3 {
            account_id: account_id.clone(),
        },
        None => Api::DataApi,
    };
    let overlap_arg = args.overlap.as_deref().unwrap_or("1h");
    let overlap = crate::when::parse_age(overlap_arg.trim()).ok_or_else(|| {
        CliError::Usage(format!(
            "--overlap {overlap_arg:?}: give an age such as 30m, 2h or 1d"
        ))
    })?;
    let store = open_store(db)?;
    source.announce(agent.id());
    let bar = spinner();
    // The refresh window counts back from the system clock, also in the sandbox: conversations
    // change for a while after they happen (calls end, notes are added), which is a matter of
    // their age, not of how they compare with newer ones. The sandbox's data is a recording
    // made on 2026-06-03 that never changes, so none of it is young and a second sync is a
    // no-op, as for a cron user on a quiet agent.
    let mut syncer = Syncer::new(&store, ctx.session.client(), agent.id())
        .api(api)
        .environments(source.environments)
        .overlap(overlap)
        .concurrency(usize::from(args.concurrency))
        .refresh_window(Duration::from_secs(u64::from(args.refresh_days) * 86_400))
        .full(args.full)
        .on_progress({
            let bar = bar.clone();
            move |counts: &SyncCounts| bar.set_message(progress_text(counts))
        });
    if let Some(size) = args.page_size {
        syncer = syncer.page_size(size);
    }
    if ctx.session.is_sandbox() {
        // The sandbox listens on a new port each time; its data is always the same.
        syncer = syncer.origin("sandbox");
    }
    if let Some(dir) = &args.with_audio {
        syncer = syncer.with_audio(dir);
    }
    // The signal that stopped the run, for the exit code (130 or 143).
    let received = std::sync::OnceLock::new();
    let interrupted = signals::interrupted();
    let stop = async {
        let _ = received.set(interrupted.await);
    };
    let result = syncer.run_until(stop).await;
    bar.finish_and_clear();
    let report = result.map_err(|err: SyncError| CliError::Sync(err))?;
    crate::output::note!("{}", summary_line(&report, db));
    if ctx.format != OutputFormat::Table {
        ctx.write_record(&mut crate::output::stdout(), &summary_record(&report))
            .map_err(stdout_error)?;
    }
    match report.status {
        SyncStatus::Interrupted => Err(CliError::Interrupted(
            received
                .get()
                .copied()
                .unwrap_or(signals::Signal::Interrupt),
            "sync interrupted; run it again to go on from the last committed page".into(),
        )),
        _ if report.counts.failed > 0 => Err(CliError::Partial(format!(
            "{} could not be read; the next run tries again each one that has an id (first: {})",
            match report.counts.failed {
                1 => "1 conversation or recording".to_owned(),
                n => format!("{n} conversations or recordings"),
            },
            report.first_failure.as_deref().unwrap_or("-")
        ))),
        _ => Ok(()),
    }
}

/// Opens the database `--db` names, creating its folder; refuses, naming the path the user
/// gave, a folder or a file that is not a SQLite database before any lock file is made beside
/// it.
fn open_store(db: &std::path::Path) -> Result<Store, CliError> {
    use std::io::Read;
    let refuse = |why: &str| CliError::file("--db", db, std::io::Error::other(why.to_owned()));
    match std::fs::metadata(db) {
        Ok(meta) if meta.is_dir() => {
            return Err(refuse(
                "is a folder: name the database file, e.g. --db conversations.db",
            ));
        }
        Ok(meta) if meta.len() > 0 => {
            let mut head = [0u8; 16];
            let n = std::fs::File::open(db)
                .and_then(|mut f| f.read(&mut head))
                .map_err(|e| CliError::file("reading", db, e))?;
            if &head[..n] != b"SQLite format 3\0" {
                return Err(refuse(
                    "is not a SQLite database, and sync writes only its own: choose a new \
                     file for --db (or the database an earlier sync made)",
                ));
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = db.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| CliError::file("creating the folder of", db, e))?;
            }
        }
        Err(e) => return Err(CliError::file("opening", db, e)),
    }
    Store::open(db).map_err(|err| match err {
        // The lock file beside the database is ours; name the database the user gave.
        polyai_store::StoreError::Io { source, .. } => CliError::file("opening", db, source),
        other => CliError::Sync(other.into()),
    })
}
fn spinner() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}, {elapsed} elapsed") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_message("listing");
    bar
}

fn progress_text(c: &SyncCounts) -> String {
    format!(
        "{} listing pages, {} new, {} refreshed, {} failed",
        c.pages, c.new, c.refreshed, c.failed
    )
}

/// The closing line, e.g. `sync complete: 12 new, 40 refreshed, 0 failed; 100234 stored in
/// conversations.db (run 17, 3 pages, 2.1 s)`.
fn summary_line(report: &SyncReport, db: &std::path::Path) -> String {
    let c = &report.counts;
    let state = match report.status {
        SyncStatus::Complete => "sync complete",
        _ => "sync interrupted",
    };
    let mut line = format!(
        "{state}: {} new, {} refreshed, {} retried, {} failed; {} stored in {} (run {}, {} {} listing page{}, {:.1} s)",
        c.new,
        c.refreshed,
        c.retried,
        c.failed,
        report.stored,
        db.display(),
        report.run_id,
        c.pages,
        report.api,
        if c.pages == 1 { "" } else { "s" },
        report.elapsed.as_secs_f64()
    );
    if c.recordings > 0 {
        line.push_str(&format!(
            "; {} recordings ({:.1} MB)",
            c.recordings,
            c.recording_bytes as f64 / 1e6
        ));
    }
    line
}

/// The closing summary as a record, for `--output json|jsonl|csv`.
fn summary_record(report: &SyncReport) -> crate::records::SyncSummary {
    let c = &report.counts;
    crate::records::SyncSummary {
        status: match report.status {
            SyncStatus::Complete => "complete",
            _ => "interrupted",
        }
        .to_owned(),
        run_id: report.run_id,
        api: report.api.to_owned(),
        new: c.new,
        refreshed: c.refreshed,
        retried: c.retried,
        failed: c.failed,
        listed: c.listed,
        pages: c.pages,
        recordings: c.recordings,
        recording_bytes: c.recording_bytes,
        stored: report.stored,
        seconds: report.elapsed.as_secs_f64(),
    }
}
