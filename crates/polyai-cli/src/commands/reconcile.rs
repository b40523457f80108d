//! `reconcile`: two listings of the agent's conversations, compared per day and field by field
//! (see [`crate::reconcile`]).

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget};
use jiff::tz::TimeZone;
use polyai_data::{Agent, ClientEnv, Timestamp};

use crate::cli::{OutputFormat, ReconcileApi, ReconcileArgs, ReconcileEnv};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::{note, stdout, stdout_error};
use crate::reconcile::compare::{Comparison, Field, Note, Settings, Which};
use crate::reconcile::report::{self, Header};
use crate::reconcile::source::{Bounds, Item, Side, newest_first};
use crate::when;

/// How long after it started a conversation may first appear in a listing: one on a side only
/// that started this close to (or after) the moment the other side was read is apart.
const LISTING_LAG: Duration = Duration::from_secs(120);

/// `reconcile`.
pub async fn run(ctx: &Ctx<'_>, args: &ReconcileArgs) -> Result<(), CliError> {
    let session = ctx.session;
    let (tz, tz_name) = time_zone(&args.tz)?;
    let now = session.now();
    let since = edge("--since", &args.since, now, &tz)?;
    let until = match &args.until {
        Some(text) => edge("--until", text, now, &tz)?,
        None => now,
    };
    if since >= until {
        return Err(CliError::Usage(format!(
            "the window is empty: --since {} is not before --until {}",
            since.to_rfc3339_micros(),
            until.to_rfc3339_micros()
        )));
    }
    let margin = age("--edge-margin", &args.edge_margin)?;
    let tolerance = age("--time-tolerance", &args.time_tolerance)?;
    let fields = fields(&args.fields)?;
    let agent = session.agent()?;
    let (environments, environment) = environments(args.env);
    let (a, b) = sides(ctx, args, &agent, &environments)?;
    let widened = |t: Option<Timestamp>| {
        t.ok_or_else(|| CliError::Usage("--edge-margin reaches past the years 0000-9999".into()))
    };
    let bounds = Bounds {
        since: widened(since.checked_sub(margin))?,
        until: widened(until.checked_add(margin))?,
        agent_id: agent.id().to_owned(),
    };
    let mut warnings = a.warnings((since, until), environment);
    warnings.extend(b.warnings((since, until), environment));
    // An API side is read from now on; a held copy was taken when its last run began.
    let read_from = |side: &Side| match side {
        Side::DataApi { .. } | Side::V3 { .. } => Some(now),
        _ => side.as_of(),
    };
    let settings = Settings {
        since,
        until,
        margin_micros: micros(margin),
        tolerance_micros: micros(tolerance),
        tz: tz.clone(),
        environments: (args.env != ReconcileEnv::All).then(|| vec![environment.to_owned()]),
        fields: fields.clone(),
        listed_from: [read_from(&a), read_from(&b)],
        lag_micros: micros(LISTING_LAG),
    };
    let header = Header {
        agent_id: agent.id().to_owned(),
        labels: [a.label(), b.label()],
        descriptions: [a.describe(), b.describe()],
        since,
        until,
        tz,
        tz_name,
        environment: environment.to_owned(),
        fields,
        margin_secs: margin.as_secs(),
        tolerance_secs: tolerance.as_secs(),
        a_lacks_turns: a.lacks_turns(),
        warnings,
    };
    let mut comparison = Comparison::new(settings);
    // In step, newest first: both sides list newest first, so a conversation both list is
    // matched soon after the first of them reads it.
    let mut both = newest_first(vec![
        a.records(bounds.clone())
            .map(|item| (Which::A, item))
            .boxed(),
        b.records(bounds).map(|item| (Which::B, item)).boxed(),
    ]);
    let spinner = spinner();
    let mut read = 0u64;
    while let Some((which, item)) = both.next().await {
        match item? {
            Item::Record(record) => comparison.add(which, &record),
            Item::DetailFailed(record) => {
                comparison.note(which, Note::DetailFailed);
                comparison.add(which, &record);
            }
            Item::Note(note) => comparison.note(which, note),
        }
        read += 1;
        if read.is_multiple_of(1000) {
            spinner.set_message(format!(
                "{} {}, {} {} conversations read",
                header.labels[0],
                comparison.listed(Which::A),
                header.labels[1],
                comparison.listed(Which::B)
            ));
        }
    }
    spinner.finish_and_clear();
    let outcome = comparison.finish();
    let mut out = std::io::BufWriter::new(stdout());
    report::write(&mut out, ctx.format, &header, &outcome, args.show)
        .and_then(|()| out.flush())
        .map_err(stdout_error)?;
    if ctx.format != OutputFormat::Table {
        for note in report::notes(&header, &outcome) {
            note!("polyai: note: {note}");
        }
        note!("{}", report::summary_line(&header, &outcome));
    }
    let failed: u64 = outcome.sides.iter().map(|s| s.details_failed).sum();
    if !outcome.agree() {
        Err(CliError::Differ(format!(
            "the listings differ ({} differences)",
            outcome.totals.differences()
        )))
    } else if failed > 0 {
        Err(CliError::Incomplete(format!(
            "the listings agree, but {failed} conversation details could not be read: those \
             were compared without turn_count"
        )))
    } else {
        Ok(())
    }
}

/// The two sides: the Data API and v3, or what `--against` names and an API.
fn sides(
    ctx: &Ctx<'_>,
    args: &ReconcileArgs,
    agent: &Agent,
    environments: &[ClientEnv],
) -> Result<(Side, Side), CliError> {
    let session = ctx.session;
    let data_api = || Side::DataApi {
        agent: agent.clone(),
        with_details: args.with_details,
        concurrency: args.concurrency.into(),
    };
    let v3 = |account: Option<String>| -> Result<Side, CliError> {
        let account = account.ok_or_else(|| {
            CliError::Usage("the Conversations API v3 needs an account: pass --account ID".into())
        })?;
        Ok(Side::V3 {
            project: session.project(&account)?,
            environments: environments.to_vec(),
        })
    };
    let Some(path) = &args.against else {
        let b = v3(session.v3_account(&["reconcile (the Data API against v3)"])?)?;
        return Ok((data_api(), b));
    };
    let held = Side::against(path, agent.id())?;
    let api = match args.api {
        Some(ReconcileApi::Data) => data_api(),
        Some(ReconcileApi::V3) => v3(session.v3_account(&["--api v3"])?)?,
        None => match session.v3_account(&[])? {
            Some(account) => v3(Some(account))?,
            None if session.is_sandbox() => v3(session.v3_account(&["--against"])?)?,
            None => data_api(),
        },
    };
    if args.with_details && !matches!(api, Side::DataApi { .. }) {
        return Err(CliError::Usage(
            "--with-details reads the Data API's details, and this comparison lists v3 (its \
             turns are inline): drop --with-details, or pass --api data"
                .into(),
        ));
    }
    Ok((held, api))
}

/// The v3 environments walked, and the name the comparison keeps (`all` keeps every one).
fn environments(env: ReconcileEnv) -> (Vec<ClientEnv>, &'static str) {
    match env {
        ReconcileEnv::Live => (vec![ClientEnv::Live], "live"),
        ReconcileEnv::PreRelease => (vec![ClientEnv::PreRelease], "pre-release"),
        ReconcileEnv::Sandbox => (vec![ClientEnv::Sandbox], "sandbox"),
        ReconcileEnv::All => (
            vec![ClientEnv::Live, ClientEnv::PreRelease, ClientEnv::Sandbox],
            "all",
        ),
    }
}

/// `--tz`: `UTC`, or an IANA name the system's time zone database knows.
fn time_zone(name: &str) -> Result<(TimeZone, String), CliError> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("utc") || name == "Z" {
        return Ok((TimeZone::UTC, "UTC".to_owned()));
    }
    TimeZone::get(name)
        .map(|tz| {
            let shown = tz.iana_name().unwrap_or(name).to_owned();
            (tz, shown)
        })
        .map_err(|e| {
            CliError::Usage(format!(
                "--tz {name:?}: not a time zone this system knows ({e}); give an IANA name such \
                 as Europe/London or America/New_York, or UTC"
            ))
        })
}

/// `--since` / `--until`: a bare date is midnight in the report's zone; any other form is read
/// as `conversations list --since` reads it.
fn edge(flag: &str, text: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, CliError> {
    let trimmed = text.trim();
    let is_date = trimmed.len() == 10
        && trimmed.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if is_date && let Ok(date) = trimmed.parse::<jiff::civil::Date>() {
        return tz
            .to_timestamp(jiff::civil::DateTime::from(date))
            .ok()
            .and_then(|t| Timestamp::from_unix_micros(t.as_microsecond()))
            .ok_or_else(|| CliError::Usage(format!("{flag} {trimmed}: out of range")));
    }
    when::parse_time(flag, text, now)
}

/// An age option (`15m`, `0s`).
fn age(flag: &str, text: &str) -> Result<Duration, CliError> {
    when::parse_age(text.trim()).ok_or_else(|| {
        CliError::Usage(format!(
            "{flag} {text:?}: give an age such as 0s, 90s, 15m or 1h"
        ))
    })
}

/// `--fields`: the default, or the fields named (each once).
fn fields(names: &[String]) -> Result<Vec<Field>, CliError> {
    let names: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(Field::DEFAULT.to_vec());
    }
    let mut fields = Vec::new();
    for name in names {
        let field = Field::parse(name).map_err(|e| CliError::Usage(format!("--fields: {e}")))?;
        if !fields.contains(&field) {
            fields.push(field);
        }
    }
    Ok(fields)
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// A spinner on stderr with the counts read so far (hidden when stderr is not a terminal).
fn spinner() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dates_are_midnight_in_the_zone_and_other_forms_as_elsewhere() {
        let now = at("2026-06-03T14:00:00Z");
        let utc = TimeZone::UTC;
        let berlin = TimeZone::fixed(jiff::tz::offset(2));
        let edge_in = |text: &str, tz: &TimeZone| edge("--since", text, now, tz).ok();
        assert_eq!(
            edge_in("2026-06-02", &utc),
            Some(at("2026-06-02T00:00:00Z"))
        );
        assert_eq!(
            edge_in("2026-06-02", &berlin),
            Some(at("2026-06-01T22:00:00Z"))
        );
        assert_eq!(edge_in("24h", &berlin), Some(at("2026-06-02T14:00:00Z")));
        assert_eq!(
            edge_in("2026-06-02T08:00:00+02:00", &utc),
            Some(at("2026-06-02T06:00:00Z"))
        );
        assert!(edge_in("2026-13-02", &utc).is_none());
        assert!(edge_in("yesterday", &utc).is_none());
    }

    #[test]
    fn zones_fields_and_ages_say_what_is_wrong() {
        assert_eq!(time_zone("utc").ok().map(|z| z.1).as_deref(), Some("UTC"));
        let err = time_zone("Mars/Olympus").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("IANA")));
        assert_eq!(
            fields(&[]).ok(),
            Some(Field::DEFAULT.to_vec()),
            "the default"
        );
        let picked = fields(&["handoff".into(), "variant".into(), "handoff".into()]).ok();
        assert_eq!(picked, Some(vec![Field::Handoff, Field::VariantId]));
        let err = fields(&["colour".into()]).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("--fields") && e.contains("started_at")));
        assert_eq!(
            age("--edge-margin", "15m").ok(),
            Some(Duration::from_secs(900))
        );
        assert!(age("--edge-margin", "a while").is_err());
    }
}
