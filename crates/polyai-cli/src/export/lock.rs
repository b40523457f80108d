//! One export per folder: an OS-level lock on `DIR/export.lock`, held for the whole run and
//! released by the operating system when the process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::exit::CliError;

/// The lock file.
pub const LOCK_FILE: &str = "export.lock";

/// The held lock; dropping it releases the folder.
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

impl FolderLock {
    /// Takes `dir`'s lock, or fails at once with [`CliError::Busy`] when another process holds
    /// it. The holder's process id is written into the file for that message.
    pub fn acquire(dir: &Path) -> Result<FolderLock, CliError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CliError::file("opening", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let by = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (process {holder})")
                };
                return Err(CliError::Busy(format!(
                    "another export{by} is writing into {}; wait for it to end, or use another --out",
                    dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(CliError::file("locking", &path, e)),
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())
        };
        write_pid(&mut file).map_err(|e| CliError::file("writing", &path, e))?;
        Ok(FolderLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_folder_fails_at_once_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = FolderLock::acquire(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let err = FolderLock::acquire(dir.path()).err();
        let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(matches!(err, Some(CliError::Busy(_))), "{text}");
        assert!(
            text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        drop(first);
        assert!(FolderLock::acquire(dir.path()).is_ok());
    }
}
