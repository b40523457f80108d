//! Exit codes, the CLI's error type, and the one-line message plus hint printed on failure.

use std::fmt;
use std::path::PathBuf;

use polyai_data::TransportKind;

use crate::signals::Signal;

/// The exit-code table, shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (unexpected answer, invalid request)
  2  usage or configuration error (bad flags, no API key, no agent id, invalid scenario file)
  3  authentication or permission refused (HTTP 401/403: wrong key, or key from another region)
  4  not found (HTTP 404: unknown conversation, agent or recording)
  5  network error (host unreachable, timeout, connection broken)
  6  rate limited or server error after retries (HTTP 429, 5xx)
  8  local file error (exists without --force, cannot write; a --db that is not a sync database;
     a dataset that cannot be written, is not a dataset, or has a newer schema version)
  9  export partial: it finished, but some conversations failed even after retries;
     they are listed in DIR/failures.jsonl and the next run retries exactly those;
     sync partial: it finished, but some conversations could not be read (the next
     run tries them again); reconcile: the listings agree, but some details could not
     be read
 10  export folder busy: another export is writing into the same --out DIR;
     sync not started: another sync holds the database (FILE.lock);
     dataset busy: another process writes the same dataset
 11  chat test: a scenario failed (a reply broke an expectation);
     chat replay: a conversation diverged (a turn differed beyond the rules)
 12  chat test: no scenario failed, but one could not be run to the end (session ended by
     the server, time limit, network or HTTP error); chat replay: none diverged, but one
     could not be replayed (the same causes, or the conversation could not be read)
 13  verify: the archive does not match its manifest (a file missing, changed or unlisted,
     a record unreadable, a count, SHA256SUMS or the signature wrong, no manifest)
 14  reconcile: the listings differ (an id on one side only, a fact that differs, an id
     listed twice)
130  interrupted by Ctrl-C (SIGINT); an export or sync resumes when run again, chat test and
     chat replay report what finished
143  stopped by SIGTERM; an export resumes when run again";

/// Process exit codes, as listed in [`EXIT_CODES_HELP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// Any failure without a more specific code.
    Failure = 1,
    /// Invalid arguments or configuration.
    Usage = 2,
    /// HTTP 401 or 403.
    Auth = 3,
    /// HTTP 404.
    NotFound = 4,
    /// The API could not be reached or the connection failed.
    Network = 5,
    /// HTTP 429 or 5xx after the client's retries.
    Server = 6,
    /// A local file could not be written or would be overwritten.
    File = 8,
    /// An export finished with conversations that failed (listed in its failures file).
    Partial = 9,
    /// Another export holds the output folder.
    Busy = 10,
    /// `chat test`: a scenario failed; `chat replay`: a conversation diverged.
    TestFailed = 11,
    /// `chat test`: no scenario failed, but one could not be run to the end; `chat replay`: no
    /// conversation diverged, but one could not be replayed.
    TestErrored = 12,
    /// `verify`: the archive does not match its manifest.
    Verify = 13,
    /// `reconcile`: the listings differ.
    Differ = 14,
    /// Stopped by SIGINT (Ctrl-C): 128 + 2, what shells report for it.
    Interrupted = 130,
    /// Stopped by SIGTERM: 128 + 15.
    Terminated = 143,
}

impl Exit {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// Invalid arguments or configuration; the text says what to change.
    Usage(String),
    /// The API client failed.
    Api(polyai_data::Error),
    /// A call that must not simply be repeated (annotate, chat) failed in a way that leaves open
    /// whether the server carried it out.
    Unconfirmed(Box<Unconfirmed>),
    /// A local file problem.
    File {
        /// What was being done, e.g. `reading`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A file exists and `--force` was not given.
    Exists(PathBuf),
    /// Stopped by Ctrl-C or SIGTERM; the text says how to resume.
    Interrupted(Signal, String),
    /// An export finished but some conversations failed; the text says where they are listed.
    Partial(String),
    /// Another process holds the export folder.
    Busy(String),
    /// `verify` found problems (listed in its report); the text sums them up.
    Verify(String),
    /// A sync could not run or stopped.
    Sync(polyai_store::SyncError),
    /// A dataset could not be read or written (the message names the file or URL).
    #[cfg(feature = "dataset")]
    Dataset(polyai_dataset::Error),
    /// Anything else.
    Other(String),
    /// `reconcile` ran, and the listings differ (the report says how).
    Differ(String),
    /// `reconcile` ran and found no difference, but could not read everything it was asked to
    /// compare (some details).
    Incomplete(String),
    /// `chat test` ran, and not every scenario passed (the report says which and why).
    Tests {
        /// Scenarios run.
        total: usize,
        /// Scenarios that failed.
        failed: usize,
        /// Scenarios that errored.
        errored: usize,
    },
    /// A command given several conversations finished them all, and some failed (each was
    /// reported as it failed); the exit code is the first failure's.
    Several {
        /// Conversations that failed.
        failed: usize,
        /// Conversations given.
        total: usize,
        /// The first failure.
        first: Box<CliError>,
    },
    /// `chat replay` ran, and not every conversation replayed clean (the report says which).
    Replay {
        /// Conversations selected.
        total: usize,
        /// Conversations that diverged.
        diverged: usize,
        /// Conversations that could not be replayed.
        errored: usize,
    },
}

/// A failure of a call whose effect is unknown; see [`CliError::Unconfirmed`].
#[derive(Debug)]
pub struct Unconfirmed {
    /// The failure.
    pub source: polyai_data::Error,
    /// What it was meant to do, e.g. `the annotations of CA12…`.
    pub change: String,
    /// How to find out, e.g. `polyai conversations get CA12…`.
    pub check: String,
}

impl CliError {
    /// A [`CliError::File`] for `path`.
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CliError::File {
            action,
            path: path.into(),
            source,
        }
    }

    /// The client's error, marked [`CliError::Unconfirmed`] when it
    /// [may have been applied](polyai_data::Error::may_have_been_applied): `change` says what
    /// may have happened and `check` how to look before repeating it.
    pub fn unconfirmed(
        source: polyai_data::Error,
        change: impl FnOnce() -> String,
        check: impl FnOnce() -> String,
    ) -> Self {
        if source.may_have_been_applied() {
            CliError::Unconfirmed(Box::new(Unconfirmed {
                source,
                change: change(),
                check: check(),
            }))
        } else {
            CliError::Api(source)
        }
    }

    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::File { .. } | CliError::Exists(_) => Exit::File,
            CliError::Interrupted(Signal::Interrupt, _) => Exit::Interrupted,
            CliError::Interrupted(Signal::Terminate, _) => Exit::Terminated,
            CliError::Partial(_) => Exit::Partial,
            CliError::Busy(_) => Exit::Busy,
            CliError::Verify(_) => Exit::Verify,
            CliError::Other(_) => Exit::Failure,
            CliError::Differ(_) => Exit::Differ,
            CliError::Incomplete(_) => Exit::Partial,
            CliError::Api(err) => api_exit(err),
            CliError::Sync(err) => sync_exit(err),
            #[cfg(feature = "dataset")]
            CliError::Dataset(_) => Exit::File,
            CliError::Unconfirmed(u) => api_exit(&u.source),
            CliError::Several { first, .. } => first.exit(),
            CliError::Tests { failed: 0, .. } | CliError::Replay { diverged: 0, .. } => {
                Exit::TestErrored
            }
            CliError::Tests { .. } | CliError::Replay { .. } => Exit::TestFailed,
        }
    }
}

fn sync_exit(err: &polyai_store::SyncError) -> Exit {
    use polyai_store::{StoreError, SyncError};
    match err {
        SyncError::Api(api) => api_exit(api),
        SyncError::Store(StoreError::Busy { .. }) => Exit::Busy,
        SyncError::Store(StoreError::OtherHost { .. }) | SyncError::Options(_) => Exit::Usage,
        SyncError::Store(_) => Exit::File,
        _ => Exit::Failure,
    }
}

fn api_exit(err: &polyai_data::Error) -> Exit {
    use polyai_data::Error as E;
    match err {
        E::Api(api) => match api.status() {
            401 | 403 => Exit::Auth,
            404 => Exit::NotFound,
            429 | 500..=599 => Exit::Server,
            _ => Exit::Failure,
        },
        E::Transport { kind, .. } => match kind {
            TransportKind::Request => Exit::Failure,
            _ => Exit::Network,
        },
        E::Config(_) => Exit::Usage,
        E::Io { .. } => Exit::File,
        _ => Exit::Failure,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m)
            | CliError::Partial(m)
            | CliError::Busy(m)
            | CliError::Verify(m)
            | CliError::Other(m)
            | CliError::Differ(m)
            | CliError::Incomplete(m) => f.write_str(m),
            CliError::Interrupted(_, m) => f.write_str(m),
            CliError::Sync(err) => write!(f, "{err}"),
            #[cfg(feature = "dataset")]
            CliError::Dataset(err) => write!(f, "{err}"),
            CliError::Api(err) => write!(f, "{err}"),
            CliError::Unconfirmed(u) => write!(f, "{}", u.source),
            CliError::File {
                action,
                path,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            CliError::Exists(path) => write!(f, "{} already exists", path.display()),
            CliError::Several { failed, total, .. } => write!(
                f,
                "{failed} of {total} conversations failed (each is reported above)"
            ),
            CliError::Tests {
                total,
                failed,
                errored,
            } => write!(
                f,
                "{} of {total} scenario{} did not pass ({failed} failed, {errored} errored)",
                failed + errored,
                if *total == 1 { "" } else { "s" }
            ),
            CliError::Replay {
                total,
                diverged,
                errored,
            } => write!(
                f,
                "{} of {total} conversation{} did not replay clean ({diverged} diverged, {errored} errored)",
                diverged + errored,
                if *total == 1 { "" } else { "s" }
            ),
        }
    }
}

impl From<polyai_data::Error> for CliError {
    fn from(err: polyai_data::Error) -> Self {
        CliError::Api(err)
    }
}

/// What the hints may mention about the target the command talked to.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Host requests went to, e.g. `api.us.poly.ai` or `127.0.0.1:4000`.
    pub host: String,
    /// Region name when the host is a PolyAI region.
    pub region: Option<String>,
    /// Agent id in use.
    pub agent: Option<String>,
}

/// A hint that tells the user what to try next, when there is one.
pub fn hint(err: &CliError, target: &Target) -> Option<String> {
    match err {
        CliError::Exists(_) => Some("pass --force to replace it, or choose another -o FILE".into()),
        CliError::Interrupted(..) | CliError::Busy(_) => None,
        CliError::Partial(_) => {
            Some("run the same command again to retry exactly those conversations".into())
        }
        CliError::Verify(_) => Some(
            "a changed or missing file cannot be repaired from the archive: restore the folder \
             from a copy you trust (or export again) and verify that"
                .into(),
        ),
        CliError::Incomplete(_) => {
            Some("run it again to read those details anew (-v logs why each failed)".into())
        }
        CliError::Api(api) => api_hint(api, target),
        CliError::Unconfirmed(u) => Some(format!(
            "the server may have carried out {} although the call failed (such calls are \
             not retried, so nothing is applied twice): check with `{}` before running it again",
            u.change, u.check
        )),
        CliError::Sync(err) => sync_hint(err, target),
        CliError::File { path, source, .. } => file_hint(path, source),
        _ => None,
    }
}

/// What to do about a local file error, by its kind: the folder to create, the permissions to
/// check.
pub fn file_hint(path: &std::path::Path, err: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.display().to_string(),
        _ => ".".to_owned(),
    };
    match err.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Some(format!(
            "you may not do that to {}: check its permissions and those of the folder {folder} \
             (ls -ld {folder}), or choose another path",
            path.display()
        )),
        ErrorKind::NotFound => Some(format!(
            "check the path: create the folder {folder} (mkdir -p {folder}) or choose another one"
        )),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            Some("the disk is full: free some space, or choose a path on another disk".into())
        }
        ErrorKind::IsADirectory => Some(format!("{} is a folder: name a file", path.display())),
        ErrorKind::NotADirectory => Some(format!(
            "a part of {} is a file, not a folder: choose another path",
            path.display()
        )),
        _ => None,
    }
}

fn sync_hint(err: &polyai_store::SyncError, target: &Target) -> Option<String> {
    use polyai_store::{StoreError, SyncError};
    match err {
        SyncError::Api(api) => api_hint(api, target),
        SyncError::Store(StoreError::Busy { .. }) => {
            Some("wait for it to finish (from cron: skip this run; the next one catches up)".into())
        }
        SyncError::Store(StoreError::NotADatabase { .. } | StoreError::NotOurs) => {
            Some("choose a new file for --db".into())
        }
        SyncError::Store(StoreError::NewerSchema { .. }) => {
            Some("upgrade polyai, or sync into another --db".into())
        }
        SyncError::LostPlace { .. } => {
            Some("run once with --full to walk the whole listing and store what is missing".into())
        }
        _ => None,
    }
}

fn api_hint(err: &polyai_data::Error, target: &Target) -> Option<String> {
    use polyai_data::Error as E;
    let agent = target.agent.as_deref().unwrap_or("?");
    match err {
        E::Api(api) => match (api.status(), api.code().unwrap_or("")) {
            (401, _) => Some(match &target.region {
                Some(region) => format!(
                    "this key is not valid for region `{region}`: pass --region matching the Agent Studio \
                     the key was created in (us, eu, uk, studio), or check POLYAI_API_KEY / --api-key-file"
                ),
                None => format!(
                    "{} did not accept the key: check POLYAI_API_KEY / --api-key-file and --base-url",
                    target.host
                ),
            }),
            (403, _) => Some(format!(
                "the key has no access to agent `{agent}`: check --agent / POLYAI_AGENT_ID"
            )),
            (404, "CONVERSATIONS_RECORDING_NOT_FOUND") => {
                Some("this conversation has no recording".into())
            }
            (404, "ACCOUNT_NOT_FOUND") => Some(
                "no such account here: check --account / POLYAI_ACCOUNT_ID (Agent Studio → \
                 Workspace ID, e.g. ws-fd112d8f) and --region"
                    .into(),
            ),
            (404, "PROJECT_NOT_FOUND") => Some(format!(
                "no agent `{agent}` here: check --agent / POLYAI_AGENT_ID (Agent Studio → Project ID) and --region"
            )),
            (404, _) => Some(format!(
                "check the conversation id (see `polyai conversations list`) and that it belongs to agent `{agent}`"
            )),
            (429, _) => Some(
                "rate limited even after retries: wait a minute, or lower --concurrency".into(),
            ),
            (500..=599, _) => Some(
                "the API is failing even after retries: try again later (an export resumes where it stopped)"
                    .into(),
            ),
            _ => None,
        },
        E::Transport { kind, .. } => match kind {
            TransportKind::Connect => Some(format!(
                "cannot reach {}: check --region / --base-url and the network (proxies: HTTPS_PROXY)",
                target.host
            )),
            TransportKind::Timeout | TransportKind::Connection => Some(
                "the connection failed even after retries: try again (an export resumes where it stopped)"
                    .into(),
            ),
            _ => None,
        },
        E::ChatEnded { .. } => Some("run `polyai chat` again to start a new session".into()),
        E::ResponseTooLarge { .. } => Some(
            "the server sent more than any real answer holds; if this one is genuine, raise \
             --max-body-mib"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_errors_hint_at_the_fix_by_kind() {
        let hint = |kind: std::io::ErrorKind, path: &str| {
            hint(
                &CliError::file("writing", path, std::io::Error::from(kind)),
                &Target::default(),
            )
            .unwrap_or_default()
        };
        let denied = hint(std::io::ErrorKind::PermissionDenied, "ro/x.wav");
        assert!(
            denied.contains("ro/x.wav") && denied.contains("ls -ld ro"),
            "{denied}"
        );
        let missing = hint(std::io::ErrorKind::NotFound, "nodir/x.db");
        assert!(missing.contains("mkdir -p nodir"), "{missing}");
        let full = hint(std::io::ErrorKind::StorageFull, "x");
        assert!(full.contains("disk is full"), "{full}");
    }

    #[test]
    fn codes_are_distinct_and_documented() {
        let all = [
            Exit::Ok,
            Exit::Failure,
            Exit::Usage,
            Exit::Auth,
            Exit::NotFound,
            Exit::Network,
            Exit::Server,
            Exit::File,
            Exit::Partial,
            Exit::Busy,
            Exit::TestFailed,
            Exit::TestErrored,
            Exit::Verify,
            Exit::Differ,
        ];
        for (i, e) in all.iter().enumerate() {
            assert_eq!(
                usize::from(e.code()),
                i + usize::from(i >= 7),
                "7 is retired"
            );
        }
        for e in all.iter().chain(&[Exit::Interrupted, Exit::Terminated]) {
            assert!(
                EXIT_CODES_HELP.contains(&format!("\n{:>3}  ", e.code())),
                "{e:?}"
            );
        }
    }

    #[test]
    fn local_errors_map_to_their_codes() {
        assert_eq!(CliError::Usage("x".into()).exit(), Exit::Usage);
        assert_eq!(CliError::Exists("a.wav".into()).exit(), Exit::File);
        let stop = |signal| CliError::Interrupted(signal, "x".into()).exit().code();
        assert_eq!(stop(Signal::Interrupt), 130, "128 + SIGINT");
        assert_eq!(stop(Signal::Terminate), 143, "128 + SIGTERM");
        assert_eq!(CliError::Partial("x".into()).exit(), Exit::Partial);
        assert_eq!(CliError::Busy("x".into()).exit(), Exit::Busy);
        assert_eq!(CliError::Verify("x".into()).exit().code(), 13);
        assert_eq!(CliError::Differ("x".into()).exit().code(), 14);
        let tests = |failed, errored| CliError::Tests {
            total: 5,
            failed,
            errored,
        };
        assert_eq!(tests(1, 0).exit(), Exit::TestFailed);
        assert_eq!(tests(1, 2).exit(), Exit::TestFailed);
        assert_eq!(tests(0, 2).exit(), Exit::TestErrored);
        assert_eq!(
            tests(1, 2).to_string(),
            "3 of 5 scenarios did not pass (1 failed, 2 errored)"
        );
        let replay = |diverged, errored| CliError::Replay {
            total: 1,
            diverged,
            errored,
        };
        assert_eq!(replay(1, 0).exit(), Exit::TestFailed);
        assert_eq!(replay(0, 1).exit(), Exit::TestErrored);
        assert_eq!(
            replay(1, 0).to_string(),
            "1 of 1 conversation did not replay clean (1 diverged, 0 errored)"
        );
        let config = polyai_data::Error::Config("no key".into());
        assert_eq!(CliError::Api(config).exit(), Exit::Usage);
    }

    #[test]
    fn exists_has_a_hint() {
        let err = CliError::Exists("a.wav".into());
        assert_eq!(err.to_string(), "a.wav already exists");
        assert!(
            hint(&err, &Target::default())
                .unwrap_or_default()
                .contains("--force")
        );
    }
}
