//! `conversations audio`: download a recording with a progress bar and an atomic write.

use std::io::Write;
use std::path::{Path, PathBuf};

use polyai_data::audio::Direction;

use crate::cli::{AudioArgs, AudioDirection, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
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
/// Where the recording goes:
/// - no `-o`: a file in the working folder named by [`polyai_data::file_name_for_id`], so an id
///   such as `../x` can never place it elsewhere;
/// - `-o -`: standard output, unless it is a terminal (the summary goes to stderr);
/// - `-o FILE`: streamed to a temporary file beside FILE, checked, and renamed into place only
///   when complete. An existing FILE is replaced only with `--force`; a symbolic link is never
///   followed, and with `--force` the link itself is replaced (what it points to is left
///   alone); a FIFO or device (e.g. `/dev/null`) is written to in place, never replaced.
pub async fn download(ctx: &Ctx<'_>, args: &AudioArgs) -> Result<(), CliError> {
    let ids = crate::commands::collect_ids(&args.ids, args.ids_file.as_deref())?;
    let stdout = args.out.as_deref() == Some(Path::new("-"));
    if stdout && ids.len() > 1 {
        return Err(CliError::Usage(format!(
            "-o - writes one recording to stdout, and {} ids were given: give -o a folder \
             (e.g. -o recordings/) to save each as ID.wav there",
            ids.len()
        )));
    }
    // Several ids, or `-o DIR/` or an existing folder: a folder that gets ID.wav each.
    let folder = match args.out.as_deref() {
        Some(path) if !stdout => {
            let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
            let slash = path.as_os_str().to_string_lossy().ends_with('/');
            if ids.len() > 1 && !is_dir && path.exists() {
                return Err(CliError::Usage(format!(
                    "-o {} is a file, and {} ids were given: give -o a folder to save each \
                     recording in as ID.wav",
                    path.display(),
                    ids.len()
                )));
            }
            (is_dir || slash || ids.len() > 1).then(|| path.to_path_buf())
        }
        _ => None,
    };
    let agent = ctx.session.agent()?;
    crate::commands::each_id(ctx, &ids, async |id: &str| {
        let named = PathBuf::from(polyai_data::file_name_for_id(id, "wav"));
        let target = match (&folder, args.out.as_deref()) {
            (Some(dir), _) => Some(dir.join(named)),
            (None, Some(path)) if path == Path::new("-") => None,
            (None, Some(path)) => Some(path.to_path_buf()),
            (None, None) => Some(named),
        };
        save_one(ctx, &agent, args, id, target).await
    })
    .await
}

/// Downloads the recording of `id` to `target` (`None`: stdout) and prints what was saved.
async fn save_one(
    ctx: &Ctx<'_>,
    agent: &polyai_data::Agent,
    args: &AudioArgs,
    id: &str,
    target: Option<PathBuf>,
) -> Result<(), CliError> {
    match &target {
        Some(path) => {
            make_way(path, args.force)?;
            make_folder(path)?;
        }
        None if crate::output::stdio::stdout_is_terminal() => {
            return Err(CliError::Usage(
                "-o - writes the recording to stdout, which is a terminal: redirect it \
                 (`> call.wav`) or pipe it to a player"
                    .into(),
            ));
        }
        None => {}
    }
    let mut request = agent.audio(id).direction(args.direction.into());
    if args.redacted {
        request = request.redacted(true);
    }
    let download = request.send().await?;
    let (bytes, shown) = match &target {
        None => {
            let mut stdout = crate::output::stdio::async_stdout();
            (download.write_to(&mut stdout).await?, "<stdout>".to_owned())
        }
        Some(path) => {
            let bar = progress::bytes(download.content_length());
            let tick = bar.clone();
            let saved = download
                .save_to_with_progress(path, move |p| tick.set_position(p.received))
                .await;
            bar.finish_and_clear();
            let saved = saved.map_err(|err| own_path(err, path))?;
            (saved.bytes, saved.path.display().to_string())
        }
    };
    // With `-o -` stdout holds the recording, so the summary goes to stderr.
    let mut out: Box<dyn Write> = match target {
        None => Box::new(crate::output::stdio::stderr()),
        Some(_) => Box::new(crate::output::stdout()),
    };
    match ctx.format {
        OutputFormat::Table => writeln!(out, "saved {bytes} bytes to {shown}"),
        _ => ctx.write_record(
            &mut out,
            &crate::records::SavedRecording {
                conversation_id: id.to_owned(),
                path: shown,
                bytes,
                direction: Direction::from(args.direction).as_str().to_owned(),
                redacted: args.redacted,
            },
        ),
    }
    .map_err(stdout_error)
}

/// Creates the folder `path` goes in (as `export --out` and `--junit` do), naming `path` when
/// that fails.
fn make_folder(path: &Path) -> Result<(), CliError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.is_dir() => {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::file("creating the folder of", path, e))
        }
        _ => Ok(()),
    }
}

/// A file error of the download names the file the user asked for, not the temporary file
/// written beside it.
fn own_path(err: polyai_data::Error, path: &Path) -> CliError {
    match err {
        polyai_data::Error::Io { source, .. } => CliError::file("writing", path, source),
        other => CliError::Api(other),
    }
}

/// Checks what is at `path` before anything is downloaded: a regular file is replaced only
/// with `force`; a symbolic link is refused, or removed with `force` so the download replaces
/// the link and not what it points to. Devices and FIFOs are left for the client to write to
/// in place; anything else is refused by the client.
fn make_way(path: &Path, force: bool) -> Result<(), CliError> {
    let kind = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CliError::file("inspecting", path, e)),
    };
    if kind.is_file() && !force {
        return Err(CliError::Exists(path.to_path_buf()));
    }
    if kind.is_symlink() {
        if !force {
            return Err(CliError::file(
                "refusing to write",
                path,
                std::io::Error::other(
                    "it is a symbolic link, which is not followed: pass --force to replace the \
                     link itself (what it points to is left alone), or -o the path it points to",
                ),
            ));
        }
        std::fs::remove_file(path).map_err(|e| CliError::file("replacing the link", path, e))?;
    }
    Ok(())
}
