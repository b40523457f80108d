//! Which conversations to replay: ids (arguments, `--ids FILE`, `--ids -`), or a listing with
//! filters — the Conversations API v3 when an account is known (time range, search, sampling,
//! environment, variant), else the Data API's newest conversations.

use std::collections::HashSet;

use polyai_data::record::ConversationRecord;

use super::run::Job;
use crate::cli::ChatReplayArgs;
use crate::commands::Ctx;
use crate::commands::v3::with_window;
use crate::exit::CliError;
use crate::when;

/// Conversations replayed when filters select them and `--limit` is not given.
pub const DEFAULT_LIMIT: u64 = 100;

/// The listing flags that only the Conversations API v3 serves.
fn v3_flags(args: &ChatReplayArgs) -> Vec<&'static str> {
    let mut used = Vec::new();
    let mut flag = |on: bool, name: &'static str| {
        if on {
            used.push(name);
        }
    };
    flag(args.since.is_some(), "--since");
    flag(args.until.is_some(), "--until");
    flag(args.search.is_some(), "--search");
    flag(args.sample, "--sample");
    flag(args.source_env.is_some(), "--source-env");
    flag(args.source_variant.is_some(), "--source-variant");
    used
}

/// The conversations the command line names, in order, each once.
pub async fn jobs(ctx: &Ctx<'_>, args: &ChatReplayArgs) -> Result<Vec<Job>, CliError> {
    let filters = v3_flags(args);
    let by_id = !args.ids.is_empty() || args.ids_file.is_some();
    if by_id && (!filters.is_empty() || args.limit.is_some()) {
        let mut flags = filters.clone();
        if args.limit.is_some() {
            flags.push("--limit");
        }
        return Err(CliError::Usage(format!(
            "name conversations by id or select them with {}, not both",
            flags.join(", ")
        )));
    }
    if by_id {
        let ids = ids(args)?;
        if ids.is_empty() {
            return Err(CliError::Usage(format!(
                "{} holds no conversation id: write one id per line",
                args.ids_file
                    .as_deref()
                    .map_or_else(|| "the input".to_owned(), |p| p.display().to_string())
            )));
        }
        return Ok(ids
            .into_iter()
            .map(|conversation_id| Job {
                conversation_id,
                listed: None,
            })
            .collect());
    }
    if filters.is_empty() && args.limit.is_none() {
        return Err(CliError::Usage(
            "which conversations? Name ids (polyai chat replay CA…), a file of ids (--ids FILE, \
             '-' for stdin), or select them with --since, --search, --sample or --limit"
                .into(),
        ));
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    let listed = match ctx.session.v3_account(&filters)? {
        Some(account) => list_v3(ctx, args, &account, limit).await?,
        None => list_data_api(ctx, limit).await?,
    };
    if listed.is_empty() {
        return Err(CliError::Usage(
            "no finished conversation matches these filters: widen --since, check --source-env \
             (the listing's default is live) and --source-variant"
                .into(),
        ));
    }
    Ok(listed)
}

/// Ids from the arguments and `--ids FILE`, trimmed, each once, in order.
fn ids(args: &ChatReplayArgs) -> Result<Vec<String>, CliError> {
    crate::commands::collect_ids(&args.ids, args.ids_file.as_deref())
}

/// Finished conversations of the v3 listing the filters describe, up to `limit`.
async fn list_v3(
    ctx: &Ctx<'_>,
    args: &ChatReplayArgs,
    account: &str,
    limit: u64,
) -> Result<Vec<Job>, CliError> {
    let (since, until) = when::window(
        args.since.as_deref(),
        args.until.as_deref(),
        ctx.session.now(),
    )?;
    let mut listing = with_window(ctx.session.project(account)?.conversations(), since, until)
        .in_progress(false)
        .limit(limit.min(polyai_data::v3::MAX_LIMIT))
        .max_items(limit);
    if let Some(text) = &args.search {
        listing = listing.transcript_search(text);
    }
    if args.sample {
        listing = listing.sample_random();
    }
    if let Some(env) = args.source_env {
        listing = listing.client_env(env);
    }
    if let Some(name) = &args.source_variant {
        listing = listing.variant_name(name);
    }
    let mut items = listing.json_pages().items();
    let mut jobs = Vec::new();
    let mut seen = HashSet::new();
    while let Some(item) = items.try_next().await? {
        // An item without an id cannot be replayed or reported; the listing's own problem.
        let Some(record) = ConversationRecord::from_v3(&item) else {
            continue;
        };
        if seen.insert(record.conversation_id.clone()) {
            jobs.push(Job {
                conversation_id: record.conversation_id.clone(),
                listed: Some(record),
            });
        }
    }
    Ok(jobs)
}

/// The newest `limit` finished conversations of the Data API listing.
async fn list_data_api(ctx: &Ctx<'_>, limit: u64) -> Result<Vec<Job>, CliError> {
    let mut items = ctx
        .session
        .agent()?
        .conversations()
        .list()
        .limit(limit.saturating_add(8).min(1000))
        .dedupe(true)
        .json_pages()
        .items();
    let mut jobs = Vec::new();
    while let Some(item) = items.try_next().await? {
        let Some(record) = ConversationRecord::from_data_api(&item) else {
            continue;
        };
        if record.in_progress == Some(true) {
            continue;
        }
        jobs.push(Job {
            conversation_id: record.conversation_id.clone(),
            listed: Some(record),
        });
        if jobs.len() as u64 >= limit {
            break;
        }
    }
    Ok(jobs)
}
