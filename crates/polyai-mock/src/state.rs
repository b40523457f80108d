//! Mutable state: notes and annotations, optionally persisted to a JSON file written atomically.

use std::collections::BTreeMap;
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
}

/// Thread-safe notes/annotations store.
#[derive(Debug)]
pub struct Store {
    data: Mutex<StateData>,
    file: Option<PathBuf>,
}

impl Store {
    /// Opens the store, loading `file` if it exists.
    pub fn open(file: Option<PathBuf>) -> Result<Self, StateError> {
        let data = match &file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
                    path: path.clone(),
                    source,
                })?;
                serde_json::from_str(&text).map_err(|source| StateError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            _ => StateData::default(),
        };
        Ok(Store {
            data: Mutex::new(data),
            file,
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
        let mut data = self.lock();
        data.notes.insert(conversation.to_string(), note);
        self.persist(&data)
    }

    /// Appends annotations to a conversation.
    pub fn add_annotations(
        &self,
        conversation: &str,
        items: Vec<Annotation>,
    ) -> Result<(), StateError> {
        let mut data = self.lock();
        data.annotations
            .entry(conversation.to_string())
            .or_default()
            .extend(items);
        self.persist(&data)
    }

    fn persist(&self, data: &StateData) -> Result<(), StateError> {
        match &self.file {
            Some(path) => write_atomically(path, data),
            None => Ok(()),
        }
    }
}

/// Writes `data` to a temporary file beside `path`, syncs it, then renames it over `path`.
fn write_atomically(path: &Path, data: &StateData) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_vec_pretty(data).map_err(|e| io(std::io::Error::other(e)))?;
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&text).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)
}
