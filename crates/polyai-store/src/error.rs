//! What can go wrong opening the database or syncing into it.

use std::path::PathBuf;

/// Why a [`Store`](crate::Store) could not be opened or written.
///
/// ```
/// # fn f(err: polyai_store::StoreError) {
/// if let polyai_store::StoreError::Busy { lock } = &err {
///     eprintln!("another sync holds {}; try again later", lock.display());
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (or another `Store` in this one) holds the database's writer lock.
    #[error("another sync is writing to this database (lock held on {})", lock.display())]
    Busy {
        /// The lock file, `DATABASE.lock`.
        lock: PathBuf,
    },
    /// The file exists but is not a SQLite database.
    #[error("{} is not a SQLite database", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a SQLite database with tables of its own and no `schema_version` table.
    #[error("the database has tables but no schema_version table: it was not made by polyai sync")]
    NotOurs,
    /// The database was written by a newer version of this crate.
    #[error(
        "the database has schema version {found}, newer than this version of polyai understands ({supported})"
    )]
    NewerSchema {
        /// The version found.
        found: u32,
        /// The newest version this crate knows.
        supported: u32,
    },
    /// The database holds this agent's conversations of other environments.
    #[error(
        "the database holds agent {agent}'s conversations of environment {stored} (synced with --env {stored}), not {asked}; sync it with --env {stored}, or use another database file"
    )]
    OtherEnvironments {
        /// The agent.
        agent: String,
        /// The environments the database holds (`all` or one).
        stored: String,
        /// The environments of this run.
        asked: String,
    },
    /// The database already holds this agent, synced from another host.
    #[error(
        "the database holds agent {agent} synced from {stored_host}, not from {host}; use another database file"
    )]
    OtherHost {
        /// The agent.
        agent: String,
        /// Host the database was synced from.
        stored_host: String,
        /// Host of this run.
        host: String,
    },
    /// A file operation failed (the lock file, a folder).
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `creating`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Sqlite(err.to_string())
    }
}

/// Why a sync stopped.
///
/// ```
/// # fn f(err: polyai_store::SyncError) {
/// match &err {
///     polyai_store::SyncError::Api(api) if api.is_rate_limited() => eprintln!("rate limited"),
///     other => eprintln!("{other}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The database could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request failed in a way that stops the run (authentication, rate limit, network,
    /// or too many conversations in a row that could not be read).
    #[error(transparent)]
    Api(#[from] polyai_data::Error),
    /// The listing changed so much since the last commit that the walk could not find its place
    /// again (the conversation it stopped after is gone and times do not locate it).
    #[error(
        "lost the place in the listing: conversation {anchor} (stored last before the gap) is no longer listed where it was; run again with a full walk"
    )]
    LostPlace {
        /// Id of the conversation the walk looked for.
        anchor: String,
    },
    /// An invalid option.
    #[error("invalid option: {0}")]
    Options(String),
}
