//! Mutable state: notes and annotations, optionally persisted to a JSON file written atomically.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// One stored annotation (a QA flag on one side of one turn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Zero-based turn index.
    pub turn_id: u64,
    /// `user` or `agent`.
    pub role: String,
    /// `missing_topic`, `wrong_transcript` or `wrong_info`.
    pub annotation_type: String,
}

/// What the state file holds, keyed by conversation id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateData {
    /// Notes by conversation id.
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    /// Annotations by conversation id, in the order they were added.
    #[serde(default)]
    pub annotations: BTreeMap<String, Vec<Annotation>>,
}

/// Errors loading or saving the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read or written.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid state JSON.
    #[error("state file {path} is not valid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file holds JSON that is not an object (e.g. `[]`).
    #[error(
        "state file {path} must be a JSON object like {{\"notes\": {{}}, \"annotations\": {{}}}}, found {found}; fix or delete it"
    )]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// The folder meant to hold the file does not exist.
    #[error("the folder of state file {path} does not exist; create it first")]
    MissingFolder {
        /// The file.
        path: PathBuf,
    },
    /// Another process (e.g. a second mock server) holds the file's lock.
    #[error(
        "state file {path} is in use by another polyai-mock (lock {lock} is held); stop it or use another --state file"
    )]
    Locked {
        /// The file.
        path: PathBuf,
        /// The lock file beside it.
        lock: PathBuf,
    },
}

/// The state file and the lock held on it for the store's lifetime.
#[derive(Debug)]
struct StateFile {
    path: PathBuf,
    /// An exclusive OS lock on `<path>.lock`, released when the store is dropped. The lock is on
    /// a file beside the state file because saving replaces the state file itself.
    _lock: File,
}

/// Thread-safe notes/annotations store.
///
/// With a file, a change is saved before it is applied in memory: a failed save answers an error
/// and changes nothing, so what the server shows is always what the file holds.
#[derive(Debug)]
pub struct Store {
    data: Mutex<StateData>,
    file: Option<StateFile>,
}

impl Store {
    /// Opens the store, loading `file` if it exists and locking it against other processes.
    ///
    /// Fails when the file's folder is missing, another process holds the lock, or the file is
    /// not a JSON object of notes and annotations.
    pub fn open(file: Option<PathBuf>) -> Result<Self, StateError> {
        let Some(path) = file else {
            return Ok(Store {
                data: Mutex::new(StateData::default()),
                file: None,
            });
        };
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            return Err(StateError::MissingFolder { path });
        }
        let lock = lock_beside(&path)?;
        let data = if path.exists() {
            load(&path)?
        } else {
            StateData::default()
        };
        Ok(Store {
            data: Mutex::new(data),
            file: Some(StateFile { path, _lock: lock }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, StateData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The note of a conversation.
    pub fn note(&self, conversation: &str) -> Option<String> {
        self.lock().notes.get(conversation).cloned()
    }

    /// The annotations of a conversation.
    pub fn annotations(&self, conversation: &str) -> Vec<Annotation> {
        self.lock()
            .annotations
            .get(conversation)
            .cloned()
            .unwrap_or_default()
    }

    /// A snapshot of everything stored.
    pub fn snapshot(&self) -> StateData {
        self.lock().clone()
    }

    /// Creates or replaces the note of a conversation.
    pub fn set_note(&self, conversation: &str, note: String) -> Result<(), StateError> {
        self.change(|data| {
            data.notes.insert(conversation.to_string(), note);
        })
    }

    /// Appends annotations to a conversation.
    pub fn add_annotations(
        &self,
        conversation: &str,
        items: Vec<Annotation>,
    ) -> Result<(), StateError> {
        self.change(|data| {
            data.annotations
                .entry(conversation.to_string())
                .or_default()
                .extend(items);
        })
    }

    /// Applies `edit` to a copy, saves the copy, and only then makes it the state in memory.
    fn change(&self, edit: impl FnOnce(&mut StateData)) -> Result<(), StateError> {
        let mut data = self.lock();
        let Some(file) = &self.file else {
            edit(&mut data);
            return Ok(());
        };
        let mut next = data.clone();
        edit(&mut next);
        write_atomically(&file.path, &next)?;
        *data = next;
        Ok(())
    }
}

/// Reads and checks a state file: a JSON object of notes and annotations.
fn load(path: &Path) -> Result<StateData, StateError> {
    let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parse = |source| StateError::Parse {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(parse)?;
    let found = match &value {
        serde_json::Value::Object(_) => return serde_json::from_value(value).map_err(parse),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
    };
    Err(StateError::NotAnObject {
        path: path.to_path_buf(),
        found,
    })
}

/// Takes an exclusive, non-blocking OS lock on `<path>.lock` (created if missing).
fn lock_beside(path: &Path) -> Result<File, StateError> {
    let lock = sibling(path, ".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|source| StateError::Io {
            path: lock.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StateError::Locked {
            path: path.to_path_buf(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(StateError::Io { path: lock, source }),
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes `data` to a new temporary file beside `path` (a unique name, created exclusively),
/// syncs it, then renames it over `path`. The temporary file is removed when anything fails.
fn write_atomically(path: &Path, data: &StateData) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = serde_json::to_vec_pretty(data).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = sibling(
        path,
        &format!(
            ".{}.{}.tmp",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ),
    );
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}
