//! [`Error`]: what can go wrong, each naming the file or URL and what to do.

use std::io;

/// Why a dataset operation failed. Every variant names the destination or file; none holds
/// a credential (object store credentials never leave the environment they were read from).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The destination is not a usable folder or URL.
    #[error("{destination}: {message}")]
    Destination {
        /// The destination as given.
        destination: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The destination holds files but no dataset manifest.
    #[error(
        "{destination} is not a polyai dataset (it has files but no {manifest}): write into an empty or new folder, or into the dataset's own root"
    )]
    NotADataset {
        /// The destination.
        destination: String,
        /// The manifest file's name.
        manifest: &'static str,
    },
    /// The dataset was written by a newer version of the tables or of the record contract.
    #[error(
        "{destination} was written with dataset schema version {found_dataset} (record contract {found_record}); this writer knows dataset schema version {ours_dataset} (record contract {ours_record}): upgrade polyai (or polyai-dataset) to write into it"
    )]
    NewerSchema {
        /// The destination.
        destination: String,
        /// The dataset schema version in its manifest.
        found_dataset: u32,
        /// The record contract version in its manifest.
        found_record: u32,
        /// [`DATASET_SCHEMA_VERSION`](crate::DATASET_SCHEMA_VERSION).
        ours_dataset: u32,
        /// [`polyai_data::record::SCHEMA_VERSION`].
        ours_record: u32,
    },
    /// The dataset was written in another file format than the one asked for.
    #[error(
        "{destination} holds {found} files; it cannot take {asked} files: write {asked} into another folder"
    )]
    OtherFormat {
        /// The destination.
        destination: String,
        /// The format of its files.
        found: String,
        /// The format asked for.
        asked: String,
    },
    /// Another writer holds the dataset.
    #[error(
        "{destination} is being written by another process (lock {lock}): wait for it to finish"
    )]
    Busy {
        /// The destination.
        destination: String,
        /// The lock file.
        lock: String,
    },
    /// A local file operation failed.
    #[error("{action} {path}: {}", io_message(source))]
    Io {
        /// What was being done, e.g. `writing`.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An object store operation failed.
    #[error("{action} {url}: {message}")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The object.
        url: String,
        /// The cause (object_store's message; never a credential).
        message: String,
    },
    /// A file of the dataset could not be read or written as Parquet or CSV.
    #[error("{action} {path}: {message}")]
    Format {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// The dataset's manifest or a file it lists is damaged.
    #[error("{path} is damaged: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl Error {
    /// Whether the cause is a full file system (or a quota).
    ///
    /// ```
    /// let err = polyai_dataset::Error::Io {
    ///     action: "writing",
    ///     path: "/data/ds".into(),
    ///     source: std::io::Error::from(std::io::ErrorKind::StorageFull),
    /// };
    /// assert!(err.is_full());
    /// assert!(err.to_string().contains("no space left"));
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, Error::Io { source, .. } if is_full(source))
    }

    /// Whether the cause is a destination that cannot be written (read-only, no permission).
    pub fn is_read_only(&self) -> bool {
        matches!(self, Error::Io { source, .. } if is_read_only(source))
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl std::fmt::Display,
        source: io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn format(
        action: &'static str,
        path: impl std::fmt::Display,
        message: impl std::fmt::Display,
    ) -> Self {
        Error::Format {
            action,
            path: path.to_string(),
            message: message.to_string(),
        }
    }
}

fn is_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || err.raw_os_error() == Some(28)
}

fn is_read_only(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
    ) || err.raw_os_error() == Some(30)
}

/// An I/O error in words, with what to do for the usual causes.
fn io_message(err: &io::Error) -> String {
    if is_full(err) {
        format!(
            "no space left on the destination's file system ({err}): free space there or choose another destination"
        )
    } else if err.kind() == io::ErrorKind::ReadOnlyFilesystem || err.raw_os_error() == Some(30) {
        format!("the destination is read-only ({err}): choose a destination you can write to")
    } else if err.kind() == io::ErrorKind::PermissionDenied {
        format!(
            "permission denied ({err}): choose a destination you can write to, or change its permissions"
        )
    } else {
        err.to_string()
    }
}

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
