//! The writer lock: one sync per database at a time, across processes.
//!
//! An advisory lock on `DATABASE.lock` (next to the database; SQLite's own files are `-wal` and
//! `-shm`). The operating system releases it when the process ends, however it ends, so a
//! killed sync never leaves a stale lock. Readers (`sqlite3`, BI tools) do not take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::StoreError;

/// A held writer lock; released on drop.
#[derive(Debug)]
pub(crate) struct WriterLock {
    _file: File,
}

/// The lock file of a database.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl WriterLock {
    /// Takes the lock of `database`, or fails with [`StoreError::Busy`] at once.
    pub(crate) fn acquire(database: &Path) -> Result<WriterLock, StoreError> {
        let lock = lock_path(database);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|source| StoreError::Io {
                action: "opening",
                path: lock.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(WriterLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Busy { lock }),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                action: "locking",
                path: lock,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("c.db");
        let first = WriterLock::acquire(&db).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            WriterLock::acquire(&db),
            Err(StoreError::Busy { lock }) if lock == dir.path().join("c.db.lock")
        ));
        drop(first);
        assert!(WriterLock::acquire(&db).is_ok());
    }
}
