//! `conversations list`: one listing ([`Listing`]) through the API `--api` names, printed as
//! records of the contract in every format.
//!
//! - `-O json`: one object, `{"api", "environments", "items": [records], "next": position}`,
//!   where `next` is where the following page starts (`{"offset": N}` or `{"cursor": "…"}`, `null`
//!   on the last page); with `--all` the items are written as they arrive.
//! - `-O jsonl`: one record per line; the next page's position goes to stderr.
//! - `-O csv`: the records' scalar fields, always the same columns ([`CSV_COLUMNS`]).
//! - table: one row per conversation, the free-text column cut to the terminal.

use std::io::Write;

use polyai_data::listing::{Listed, Listing};
use polyai_data::paginate::Position;
use polyai_data::record::ConversationRecord;
use serde_json::Value;

use crate::cli::{ListArgs, OutputFormat};
use crate::commands::Ctx;
use crate::commands::sample::{self, Sampler};
use crate::commands::v3::Search;
use crate::exit::CliError;
use crate::output::{
    Table, count, duration, or_dash, stdout_error, truncate, utc_time, write_csv_record,
    write_json_line,
};
use crate::source::Source;

/// Page size of `conversations list` without --limit or --all.
pub(crate) const LIST_LIMIT: u64 = 50;

/// Rows the table holds at most (a table aligns its columns over every row it shows, so it keeps
/// them; memory stays bounded past this, and the footer says what was left out).
const TABLE_ROWS: u64 = 10_000;

/// Longest summary or first request shown in the table.
const TEXT_WIDTH: usize = 48;

/// The CSV columns: every scalar field of a record, in the contract's order (`tags` joined
/// with `;`).
pub const CSV_COLUMNS: [&str; 34] = [
    "conversation_id",
    "api",
    "account_id",
    "project_id",
    "environment",
    "channel",
    "direction",
    "created_at",
    "started_at",
    "finished_at",
    "in_progress",
    "total_duration",
    "polyai_duration",
    "duration",
    "from_number",
    "to_number",
    "language",
    "variant_id",
    "variant_name",
    "handoff",
    "handoff_destination",
    "handoff_reason",
    "poly_score",
    "summary_heading",
    "summary",
    "tags",
    "note",
    "deployment_id",
    "audio_url",
    "turn_count",
    "num_silences",
    "num_ood",
    "audio_file",
    "first_request",
];

/// `conversations list`.
pub async fn run(ctx: &Ctx<'_>, args: &ListArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let here = args.samples_here();
    let mut v3_only = args.v3.used();
    let mut filters = args.v3.clone();
    if here {
        // Drawn here from the whole listing: either API, and no server-side sample.
        v3_only.retain(|flag| *flag != "--sample");
        filters.sample = false;
    }
    let source = Source::choose(ctx.session, &args.source, &v3_only)?;
    let walk_all = args.all || here;
    let limit = match args.limit {
        Some(limit) if !here => limit,
        _ if walk_all => polyai_data::v3::MAX_LIMIT,
        _ => LIST_LIMIT,
    };
    let listing = source
        .listing(
            ctx.session,
            &agent,
            |list| {
                let list = list.concurrency(args.page_concurrency.into());
                // One page: the default size unless asked; every page: the library's largest.
                match args
                    .limit
                    .filter(|_| !here)
                    .or((!walk_all).then_some(LIST_LIMIT))
                {
                    Some(limit) => list.limit(limit),
                    None => list,
                }
            },
            |list| crate::commands::v3::filtered(ctx, list, &filters, limit),
        )?
        .keep_raw(args.keep_raw);
    source.announce(agent.id());
    if here {
        return sample(ctx, args, &agent, &listing).await;
    }
    let from = match (&args.v3.cursor, args.offset) {
        (Some(cursor), _) => Some(Position::Cursor(cursor.clone())),
        (None, 0) => None,
        (None, offset) => Some(Position::Offset(offset)),
    };
    let lanes = listing.lanes();
    if from.is_some() && lanes.len() > 1 {
        return Err(CliError::Usage(
            "--offset and --cursor continue one environment's listing: add --env live, \
             pre-release or sandbox"
                .into(),
        ));
    }
    let search = crate::commands::v3::Search::of(&args.v3).filter(|_| source.account.is_some());
    let mut printer = Printer::new(ctx.format, &listing, search);
    printer.start()?;
    let mut next = None;
    for lane in lanes {
        if !args.all {
            // One page: one request, shown as the server sent it.
            let page = listing.page(lane, from.clone()).await?;
            next = page.next();
            if let (Some(offset), Some(count)) = (page.offset(), page.count()) {
                printer.span = Some((offset, page.next_offset().unwrap_or(count), count));
            }
            printer.page(page.into_items())?;
            continue;
        }
        let mut pages = listing.pages(lane, from.clone());
        while let Some(page) = pages.try_next().await? {
            printer.page(page.into_items())?;
        }
    }
    // One page of several environments has no single position to go on from.
    let next = next.filter(|_| !args.all && listing.lanes().len() == 1);
    printer.finish(next.as_ref())
}

/// `--sample` with `--seed` or `--with-recording`: every page of the listing walked, the
/// sample drawn here ([`crate::commands::sample`]), then printed in sample order.
async fn sample(
    ctx: &Ctx<'_>,
    args: &ListArgs,
    agent: &polyai_data::Agent,
    listing: &Listing,
) -> Result<(), CliError> {
    let seed = args.seed.unwrap_or_else(sample::fresh_seed);
    let size = usize::try_from(args.limit.unwrap_or(LIST_LIMIT)).unwrap_or(usize::MAX);
    let mut sampler = Sampler::new(seed, size, args.with_recording);
    let mut printer = Printer::new(ctx.format, listing, None);
    for lane in listing.lanes() {
        let mut pages = listing.pages(lane, None);
        while let Some(page) = pages.try_next().await? {
            for item in page.into_items() {
                match item {
                    Ok(record) => sampler.offer(record),
                    Err(unreadable) => printer.page(vec![Err(unreadable)])?,
                }
            }
        }
    }
    let seen = sampler.seen;
    let (records, short) = sampler
        .draw(size, |id| async move {
            match agent.audio(id).send().await {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    crate::output::note!(
        "polyai: a sample of {} drawn from {} with --seed {seed}{} (the same seed over the same \
         conversations draws the same sample)",
        records.len(),
        count(seen, "conversation"),
        if args.with_recording {
            ", each with a recording"
        } else {
            ""
        }
    );
    if let Some(candidates) = short {
        crate::output::note!(
            "polyai: only {} of the {candidates} conversations drawn first have a recording; \
             others may: draw a larger sample (--limit) or from a narrower window (--since)",
            records.len()
        );
    }
    printer.start()?;
    printer.page(records.into_iter().map(Ok).collect())?;
    printer.finish(None)
}

/// Writes the records of a listing in the chosen format, page by page.
struct Printer<'a> {
    format: OutputFormat,
    api: String,
    environments: String,
    /// Records written (or held, for the table).
    count: u64,
    /// Items the listing could not read.
    unreadable: u64,
    /// The table's rows (a table aligns its columns over every row).
    table: Option<Table>,
    /// The listing positions the last offset page covered: from, to, and the total.
    span: Option<(u64, u64, u64)>,
    /// A transcript search: the table shows each match instead of the summary.
    search: Option<Search<'a>>,
}

impl<'a> Printer<'a> {
    fn new(format: OutputFormat, listing: &Listing, search: Option<Search<'a>>) -> Self {
        Printer {
            format,
            api: listing.api().to_string(),
            environments: listing.environment_filter().to_string(),
            count: 0,
            unreadable: 0,
            table: (format == OutputFormat::Table).then(|| table(search.is_some())),
            span: None,
            search,
        }
    }

    fn start(&mut self) -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        match self.format {
            OutputFormat::Json => write!(
                out,
                "{{\"api\":{},\"environments\":{},\"items\":[",
                Value::from(self.api.as_str()),
                Value::from(self.environments.as_str())
            ),
            OutputFormat::Csv => write_csv_record(&mut out, CSV_COLUMNS),
            _ => Ok(()),
        }
        .map_err(stdout_error)
    }

    fn page(&mut self, items: Vec<Listed>) -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        for item in items {
            let record = match item {
                Ok(record) => record,
                Err(unreadable) => {
                    self.unreadable += 1;
                    crate::output::note!("polyai: skipped {unreadable}");
                    continue;
                }
            };
            match self.format {
                OutputFormat::Json => {
                    if self.count > 0 {
                        out.write_all(b",").map_err(stdout_error)?;
                    }
                    serde_json::to_writer(&mut out, &record)
                        .map_err(|e| stdout_error(std::io::Error::from(e)))?;
                }
                OutputFormat::Jsonl => write_json_line(&mut out, &record).map_err(stdout_error)?,
                OutputFormat::Csv => {
                    let row = csv_row(&record);
                    write_csv_record(&mut out, row.iter().map(String::as_str))
                        .map_err(stdout_error)?;
                }
                OutputFormat::Table => {
                    if let Some(table) = self.table.as_mut().filter(|_| self.count < TABLE_ROWS) {
                        table.push(table_row(&record, self.search));
                    }
                }
            }
            self.count += 1;
        }
        out.flush().map_err(stdout_error)
    }

    fn finish(self, next: Option<&Position>) -> Result<(), CliError> {
        let mut out = crate::output::stdout();
        let resume = next.map(|next| match next {
            Position::Cursor(cursor) => format!("--cursor {cursor}"),
            Position::Offset(offset) => format!("--offset {offset}"),
            other => other.to_string(),
        });
        match self.format {
            OutputFormat::Json => {
                let next = serde_json::to_string(&next)
                    .map_err(|e| stdout_error(std::io::Error::from(e)))?;
                writeln!(out, "],\"count\":{},\"next\":{next}}}", self.count)
            }
            OutputFormat::Table => {
                if let Some(table) = &self.table {
                    table.write_aligned(&mut out).map_err(stdout_error)?;
                }
                let mut footer = match self.span {
                    // One page of the Data API: where it sits in the listing.
                    Some((from, to, total)) if resume.is_some() || from > 0 => {
                        let range = format!("{}-{to} of {total}", from + 1);
                        if self.environments == "all" {
                            format!("{range} conversations")
                        } else {
                            format!(
                                "{} in {range}",
                                count(self.count, &format!("{} conversation", self.environments))
                            )
                        }
                    }
                    _ => count(self.count, "conversation"),
                };
                if let Some(resume) = &resume {
                    footer.push_str(&format!(" (next page: {resume})"));
                }
                if self.count > TABLE_ROWS {
                    footer.push_str(&format!(
                        "; the table shows the first {TABLE_ROWS}: -O jsonl or -O csv print every one"
                    ));
                }
                writeln!(out, "{footer}")
            }
            _ => {
                if let Some(resume) = &resume {
                    crate::output::note!("next page: {resume}");
                }
                Ok(())
            }
        }
        .and_then(|()| out.flush())
        .map_err(stdout_error)
    }
}

/// The table's columns: the last one is free text, cut to the terminal (MATCH with a search).
fn table(search: bool) -> Table {
    Table::new(vec![
        "ID",
        "STARTED",
        "DURATION",
        "CHANNEL",
        "ENV",
        "TURNS",
        "HANDOFF",
        if search { "MATCH" } else { "SUMMARY" },
    ])
    // On a narrow terminal: ENV goes first, then CHANNEL, TURNS, HANDOFF, DURATION, and STARTED
    // last, so that the id and some text always fit.
    .optional(&[4, 3, 5, 6, 2, 1])
}

/// One table row: the search's match, else the summary heading where the API gives one, else
/// the first thing the caller said.
fn table_row(r: &ConversationRecord, search: Option<Search<'_>>) -> Vec<String> {
    let text = search
        .and_then(|search| search.snippet(r, TEXT_WIDTH))
        .or_else(|| r.summary_heading.as_ref().map(|t| truncate(t, TEXT_WIDTH)))
        .or_else(|| first_request(r).map(|t| truncate(&t, TEXT_WIDTH)))
        .unwrap_or_else(|| "-".to_owned());
    vec![
        r.conversation_id.clone(),
        r.started_at
            .or(r.created_at)
            .map_or_else(|| "-".into(), utc_time),
        if r.in_progress == Some(true) {
            "ongoing".into()
        } else {
            r.total_duration
                .or(r.duration)
                .map_or_else(|| "-".into(), duration)
        },
        or_dash(r.channel.as_deref()),
        or_dash(r.environment.as_deref()),
        r.turn_count.map_or_else(|| "-".into(), |n| n.to_string()),
        match r.handoff {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => "-".into(),
        },
        text,
    ]
}

/// The first thing the caller said, when the record has its turns.
fn first_request(r: &ConversationRecord) -> Option<String> {
    r.turns
        .as_deref()?
        .iter()
        .filter_map(|t| t.user_input.as_deref())
        .find(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

/// One CSV row, in the order of [`CSV_COLUMNS`].
pub fn csv_row(r: &ConversationRecord) -> Vec<String> {
    let value = serde_json::to_value(r).unwrap_or(Value::Null);
    CSV_COLUMNS
        .iter()
        .map(|column| match *column {
            "first_request" => first_request(r).unwrap_or_default(),
            "tags" => r.tags.as_deref().unwrap_or_default().join(";"),
            name => match value.get(name) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyai_data::record::Api;

    #[test]
    fn csv_columns_are_every_scalar_field_of_the_record() {
        let record = ConversationRecord::new("CA1", Api::V3);
        let value = serde_json::to_value(&record).unwrap_or(Value::Null);
        let fields: Vec<&str> = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let nested = ["turns", "function_events", "metrics", "raw"];
        for field in &fields {
            assert!(
                nested.contains(field) || CSV_COLUMNS.contains(field),
                "{field} is missing from the CSV columns"
            );
        }
        for column in CSV_COLUMNS {
            assert!(
                column == "first_request" || fields.contains(&column),
                "{column} is not a record field"
            );
        }
        assert_eq!(csv_row(&record)[..2], ["CA1".to_owned(), "v3".to_owned()]);
    }
}
