//! `conversations audio`: download a recording with a progress bar and an atomic write.

use std::io::Write;
use std::path::PathBuf;

use polyai_data::Direction;

use crate::cli::{AudioArgs, AudioDirection, OutputFormat};
use crate::commands::{Ctx, stdout_error};
use crate::exit::CliError;
use crate::progress;

impl From<AudioDirection> for Direction {
    fn from(d: AudioDirection) -> Self {
        match d {
            AudioDirection::Combined => Direction::Combined,
            AudioDirection::User => Direction::User,
            AudioDirection::Agent => Direction::Agent,
        }
    }
}

/// `conversations audio`.
///
/// Refuses to replace an existing file without `--force`. The client streams the body to a
/// temporary file next to the target, checks the WAV header and length, and renames it into
/// place only when complete, so an interrupted download never leaves a partial file.
pub async fn download(ctx: &Ctx<'_>, args: &AudioArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let path = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.wav", args.id)));
    if !args.force && std::fs::symlink_metadata(&path).is_ok() {
        return Err(CliError::Exists(path));
    }
    let mut request = agent.audio(&args.id).direction(args.direction.into());
    if args.redacted {
        request = request.redacted(true);
    }
    let download = request.send().await?;
    let bar = progress::bytes(download.content_length());
    let tick = bar.clone();
    let saved = download
        .save_to_with_progress(&path, move |p| tick.set_position(p.received))
        .await;
    bar.finish_and_clear();
    let saved = saved?;
    let mut out = std::io::stdout().lock();
    match ctx.format {
        OutputFormat::Table => writeln!(
            out,
            "saved {} bytes to {}",
            saved.bytes,
            saved.path.display()
        ),
        _ => ctx.write_record(
            &mut out,
            &serde_json::json!({
                "conversationId": args.id,
                "path": saved.path.display().to_string(),
                "bytes": saved.bytes,
                "direction": Direction::from(args.direction).as_str(),
                "redacted": args.redacted,
            }),
        ),
    }
    .map_err(stdout_error)
}
