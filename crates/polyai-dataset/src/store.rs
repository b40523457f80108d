//! Where a dataset lives: a local folder (plain files, renamed into place) or an object store
//! (`s3://`, `gs://`, `az://`, `file://`) through the `object_store` crate.
//!
//! Paths inside a dataset are relative, `/`-separated (`turns/date=2026-06-03/part-….parquet`).

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// The folder of our own bookkeeping inside a dataset: names starting with `_` are skipped by
/// DuckDB's, Spark's and pyarrow's readers of a folder, and nothing in it ends in `.parquet`.
pub(crate) const META_DIR: &str = "_polyai";
/// Temporary files of a run, inside [`META_DIR`].
const TMP_DIR: &str = "_polyai/tmp";
/// The lock file of a local dataset.
const LOCK_FILE: &str = "_polyai/lock";

/// Where a dataset is written: a local folder, or an object store URL.
///
/// Credentials for object stores come from each cloud's standard environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, `AWS_PROFILE` with `~/.aws/credentials`; `GOOGLE_APPLICATION_CREDENTIALS`
/// or gcloud's application default credentials; `AZURE_STORAGE_ACCOUNT_NAME`,
/// `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`/`AZURE_TENANT_ID`, …),
/// and from instance or workload identity where the cloud offers one; never from the URL.
///
/// ```
/// use polyai_dataset::Destination;
/// let local: Destination = "data/calls".parse()?;
/// assert!(local.is_local());
/// let s3: Destination = "s3://analytics/polyai/calls".parse()?;
/// assert_eq!(s3.to_string(), "s3://analytics/polyai/calls");
/// assert!("ftp://host/x".parse::<Destination>().is_err());
/// assert!("s3://user:secret@bucket/x".parse::<Destination>().is_err(), "no credentials in URLs");
/// # Ok::<(), polyai_dataset::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Local(PathBuf),
    Url(url::Url),
}

impl Destination {
    /// A local folder.
    pub fn local(path: impl Into<PathBuf>) -> Self {
        Destination {
            kind: Kind::Local(path.into()),
        }
    }

    /// Whether it is a local folder (written with renames, locked against a second writer).
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local(_))
    }
}

impl std::str::FromStr for Destination {
    type Err = Error;

    /// A path, or a URL with the scheme `s3`, `s3a`, `gs`, `az`, `azure`, `abfs`, `abfss` or
    /// `file`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |message: String| Error::Destination {
            destination: redact(text),
            message,
        };
        if text.is_empty() {
            return Err(bad("give a folder or a URL (s3://, gs://, az://)".into()));
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Destination::local(text));
        };
        let url = url::Url::parse(text).map_err(|e| bad(format!("not a URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials do not go in the URL: set them in the environment (AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY, …) or a profile".into()));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| bad("a file:// URL must name an absolute local path".into()))?;
                Ok(Destination::local(path))
            }
            "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "adl" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad("the URL names no bucket or container".into()));
                }
                Ok(Destination {
                    kind: Kind::Url(url),
                })
            }
            other => Err(bad(format!(
                "`{other}://` is not a destination: use a folder, s3://, gs:// or az://"
            ))),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Local(path) => write!(f, "{}", path.display()),
            Kind::Url(url) => f.write_str(url.as_str().trim_end_matches('/')),
        }
    }
}

/// A URL as errors may show it: without user info or query (which may hold a signature).
fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if text.contains("://") => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        _ => text.to_owned(),
    }
}

/// An opened destination.
#[derive(Debug)]
pub(crate) enum Store {
    Local(LocalDir),
    Object(ObjectDir),
}

#[derive(Debug)]
pub(crate) struct LocalDir {
    root: PathBuf,
    /// This run's folder of temporary files, inside the dataset (so a rename publishes).
    spool: PathBuf,
    /// Held for as long as the store is open: one writer per folder.
    _lock: Option<File>,
    /// Folders that gained a file through a durable rename since [`Store::sync_folders`]: each
    /// is flushed once then, however many files it gained.
    unsynced: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
}

#[derive(Debug)]
pub(crate) struct ObjectDir {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: String,
    /// Local temporary files; removed with the store.
    spool: tempfile::TempDir,
}

impl Store {
    /// Opens `destination`; `write` takes the lock of a local folder and creates it.
    pub async fn open(destination: &Destination, write: bool) -> Result<Store> {
        match &destination.kind {
            Kind::Local(root) => LocalDir::open(root, write).map(Store::Local),
            Kind::Url(url) => ObjectDir::open(url).map(Store::Object),
        }
    }

    /// Whether files are local (read in place, renamed into place).
    pub fn is_local(&self) -> bool {
        matches!(self, Store::Local(_))
    }

    /// `rel` as errors show it.
    pub fn display(&self, rel: &str) -> String {
        match self {
            Store::Local(l) => l.root.join(rel).display().to_string(),
            Store::Object(o) => format!("{}/{rel}", o.url),
        }
    }

    /// A temporary file of this run named `name` (its folder created).
    pub fn spool_file(&self, name: &str) -> Result<PathBuf> {
        Ok(self.spool_dir()?.join(name))
    }

    /// The folder of the run's temporary files, created.
    pub fn spool_dir(&self) -> Result<&Path> {
        let dir = match self {
            Store::Local(l) => l.spool.as_path(),
            Store::Object(o) => o.spool.path(),
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir.display(), e))?;
        Ok(dir)
    }

    /// The contents of `rel`, or `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Store::Local(l) => match std::fs::read(l.root.join(rel)) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io("reading", self.display(rel), e)),
            },
            Store::Object(o) => match o.store.get(&o.path(rel)).await {
                Ok(result) => result
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(|e| o.error("reading", rel, e)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(o.error("reading", rel, e)),
            },
        }
    }

    /// Writes `bytes` as `rel` atomically: a reader sees the old contents or the new, whole.
    /// With `durable`, the contents are on the disk when it returns, the rename once
    /// [`sync_folders`](Self::sync_folders) has run.
    pub async fn put(&self, rel: &str, bytes: Vec<u8>, durable: bool) -> Result<()> {
        match self {
            Store::Local(l) => {
                let tmp = self
                    .spool_dir()?
                    .join(format!("put-{}", uuid::Uuid::new_v4().simple()));
                let mut file =
                    File::create(&tmp).map_err(|e| Error::io("writing", tmp.display(), e))?;
                file.write_all(&bytes)
                    .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
                    .map_err(|e| Error::io("writing", self.display(rel), e))?;
                drop(file);
                l.rename_into(&tmp, rel, durable)
            }
            Store::Object(o) => o
                .store
                .put(&o.path(rel), PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(|e| o.error("writing", rel, e)),
        }
    }

    /// Flushes to the disk the folders that durable renames (of [`put`](Self::put),
    /// [`publish`](Self::publish), [`rename`](Self::rename)) changed since the last call: the
    /// renames are durable after it. One `fsync` per folder, not one per file. Nothing to do
    /// on object stores, whose writes are durable when they return.
    pub fn sync_folders(&self) -> Result<()> {
        match self {
            Store::Local(l) => l.sync_folders(),
            Store::Object(_) => Ok(()),
        }
    }

    /// Flushes the files `rels` (written by [`put`](Self::put) without `durable`) to the disk,
    /// several at once, and their folders at the next [`sync_folders`](Self::sync_folders):
    /// as durable as a durable `put` of each, for about the time of one. Nothing to do on
    /// object stores.
    pub fn flush_files(&self, rels: &[&str]) -> Result<()> {
        match self {
            Store::Local(l) => {
                let paths: Vec<PathBuf> = rels.iter().map(|rel| l.root.join(rel)).collect();
                flush_all(&paths.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
                paths.iter().for_each(|path| l.unsynced(path));
                Ok(())
            }
            Store::Object(_) => Ok(()),
        }
    }

    /// Publishes the finished temporary file `spooled` as `rel` (a rename, or an upload that
    /// becomes visible whole when it completes).
    pub async fn publish(&self, spooled: &Path, rel: &str, durable: bool) -> Result<()> {
        match self {
            Store::Local(l) => {
                if durable {
                    File::open(spooled)
                        .and_then(|f| f.sync_all())
                        .map_err(|e| Error::io("writing", spooled.display(), e))?;
                }
                l.rename_into(spooled, rel, durable)
            }
            Store::Object(o) => {
                let mut file = tokio::fs::File::open(spooled)
                    .await
                    .map_err(|e| Error::io("reading", spooled.display(), e))?;
                let mut upload = object_store::buffered::BufWriter::with_capacity(
                    Arc::clone(&o.store),
                    o.path(rel),
                    16 << 20,
                );
                let copied = tokio::io::copy(&mut file, &mut upload).await;
                let done = match copied {
                    Ok(_) => upload.shutdown().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    let _ = upload.abort().await;
                    return Err(Error::Store {
                        action: "uploading",
                        url: self.display(rel),
                        message: e.to_string(),
                    });
                }
                let _ = std::fs::remove_file(spooled);
                Ok(())
            }
        }
    }

    /// A local file with the contents of `rel`: the file itself in a local folder, a
    /// downloaded temporary copy from an object store.
    pub async fn readable(&self, rel: &str) -> Result<PathBuf> {
        match self {
            Store::Local(l) => Ok(l.root.join(rel)),
            Store::Object(o) => {
                let target = self
                    .spool_dir()?
                    .join(format!("get-{}", uuid::Uuid::new_v4().simple()));
                let result = o
                    .store
                    .get(&o.path(rel))
                    .await
                    .map_err(|e| o.error("reading", rel, e))?;
                let mut stream = result.into_stream();
                let mut file = tokio::fs::File::create(&target)
                    .await
                    .map_err(|e| Error::io("writing", target.display(), e))?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| o.error("reading", rel, e))?;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| Error::io("writing", target.display(), e))?;
                }
                file.flush()
                    .await
                    .map_err(|e| Error::io("writing", target.display(), e))?;
                Ok(target)
            }
        }
    }

    /// Moves `from` to `to` (a rename in a local folder; a copy and a delete in an object
    /// store).
    pub async fn rename(&self, from: &str, to: &str, durable: bool) -> Result<()> {
        match self {
            Store::Local(l) => l.rename_into(&l.root.join(from), to, durable),
            Store::Object(o) => o
                .store
                .rename(&o.path(from), &o.path(to))
                .await
                .map_err(|e| o.error("moving", from, e)),
        }
    }

    /// Deletes `rel` (nothing when it does not exist).
    pub async fn delete(&self, rel: &str) -> Result<()> {
        match self {
            Store::Local(l) => {
                let path = l.root.join(rel);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        // An emptied partition folder goes too (not the table's folder).
                        if let Some(parent) = path.parent()
                            && parent.file_name().is_some_and(|n| {
                                n.to_string_lossy()
                                    .starts_with(&format!("{}=", crate::PARTITION_COLUMN))
                            })
                        {
                            let _ = std::fs::remove_dir(parent);
                        }
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(Error::io("deleting", path.display(), e)),
                }
            }
            Store::Object(o) => match o.store.delete(&o.path(rel)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(o.error("deleting", rel, e)),
            },
        }
    }

    /// Every file below the root, as relative paths (this run's temporary files excluded).
    pub async fn list(&self) -> Result<Vec<String>> {
        match self {
            Store::Local(l) => {
                let mut out = Vec::new();
                if l.root.exists() {
                    walk(&l.root, &l.root, &l.spool, &mut out)?;
                }
                Ok(out)
            }
            Store::Object(o) => {
                let mut stream = o.store.list(Some(&o.prefix));
                let mut out = Vec::new();
                while let Some(meta) = stream.next().await {
                    let meta = meta.map_err(|e| o.error("listing", "", e))?;
                    let full = meta.location.as_ref();
                    let rel = full
                        .strip_prefix(o.prefix.as_ref())
                        .unwrap_or(full)
                        .trim_start_matches('/');
                    out.push(rel.to_owned());
                }
                Ok(out)
            }
        }
    }

    /// Removes temporary files left by runs that were killed (only with the lock held).
    pub fn clear_stale_temporaries(&self) -> Result<()> {
        if let Store::Local(l) = self {
            let tmp = l.root.join(TMP_DIR);
            let entries = match std::fs::read_dir(&tmp) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io("reading", tmp.display(), e)),
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path != l.spool {
                    let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
                }
            }
        }
        Ok(())
    }

    /// Removes this run's temporary files.
    pub fn clear_spool(&self) {
        if let Store::Local(l) = self {
            let _ = std::fs::remove_dir_all(&l.spool);
        }
    }
}

impl LocalDir {
    fn open(root: &Path, write: bool) -> Result<LocalDir> {
        let spool = root
            .join(TMP_DIR)
            .join(uuid::Uuid::new_v4().simple().to_string());
        if !write {
            return Ok(LocalDir {
                root: root.to_owned(),
                spool,
                _lock: None,
                unsynced: Default::default(),
            });
        }
        if root.exists() && !root.is_dir() {
            return Err(Error::Destination {
                destination: root.display().to_string(),
                message: "is a file, not a folder".into(),
            });
        }
        let meta = root.join(META_DIR);
        std::fs::create_dir_all(&meta).map_err(|e| Error::io("creating", meta.display(), e))?;
        let lock_path = root.join(LOCK_FILE);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("creating", lock_path.display(), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Busy {
                    destination: root.display().to_string(),
                    lock: lock_path.display().to_string(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("locking", lock_path.display(), e));
            }
        }
        Ok(LocalDir {
            root: root.to_owned(),
            spool,
            _lock: Some(lock),
            unsynced: Default::default(),
        })
    }

    fn rename_into(&self, from: &Path, rel: &str, durable: bool) -> Result<()> {
        let to = self.root.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io("creating", parent.display(), e))?;
        }
        std::fs::rename(from, &to).map_err(|e| Error::io("writing", to.display(), e))?;
        if durable {
            self.unsynced(&to);
        }
        Ok(())
    }

    /// The file `path` entered its folder: the folder (and a new folder's own parent) is
    /// flushed at the next `sync_folders`, once per commit, so the entry reaches the disk.
    fn unsynced(&self, path: &Path) {
        let Some(parent) = path.parent() else {
            return;
        };
        if let Ok(mut unsynced) = self.unsynced.lock() {
            unsynced.insert(parent.to_owned());
            if let Some(grandparent) = parent.parent().filter(|p| p.starts_with(&self.root)) {
                unsynced.insert(grandparent.to_owned());
            }
        }
    }

    fn sync_folders(&self) -> Result<()> {
        let folders = match self.unsynced.lock() {
            Ok(mut unsynced) => std::mem::take(&mut *unsynced),
            Err(_) => return Ok(()),
        };
        for folder in folders {
            File::open(&folder)
                .and_then(|dir| dir.sync_all())
                .map_err(|e| Error::io("writing", folder.display(), e))?;
        }
        Ok(())
    }
}

fn walk(root: &Path, dir: &Path, skip: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("reading", dir.display(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("reading", dir.display(), e))?;
        let path = entry.path();
        if path == skip {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("reading", path.display(), e))?;
        if kind.is_dir() {
            walk(root, &path, skip, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(rel.join("/"));
        }
    }
    Ok(())
}

impl ObjectDir {
    fn open(url: &url::Url) -> Result<ObjectDir> {
        let display = url.as_str().trim_end_matches('/').to_owned();
        let store = build_store(url).map_err(|message| Error::Destination {
            destination: display.clone(),
            message,
        })?;
        let prefix = ObjectPath::from_url_path(url.path()).map_err(|e| Error::Destination {
            destination: display.clone(),
            message: format!("not a valid object path: {e}"),
        })?;
        let spool = tempfile::Builder::new()
            .prefix("polyai-dataset-")
            .tempdir()
            .map_err(|e| Error::io("creating", std::env::temp_dir().display(), e))?;
        Ok(ObjectDir {
            store,
            prefix,
            url: display,
            spool,
        })
    }

    fn path(&self, rel: &str) -> ObjectPath {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn error(&self, action: &'static str, rel: &str, err: object_store::Error) -> Error {
        Error::Store {
            action,
            url: if rel.is_empty() {
                self.url.clone()
            } else {
                format!("{}/{rel}", self.url)
            },
            message: store_message(&err),
        }
    }
}

/// object_store's message, with what to do for refused credentials.
fn store_message(err: &object_store::Error) -> String {
    match err {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            format!(
                "{err}: check the credentials in the environment (or the profile) for this bucket"
            )
        }
        _ => err.to_string(),
    }
}

/// The object store of `url`, configured from the environment.
fn build_store(url: &url::Url) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let scheme = url.scheme().to_ascii_lowercase();
    #[allow(unused_variables)]
    let feature_missing = |feature: &str| {
        format!(
            "this build has no `{scheme}://` support: build polyai-dataset with the `{feature}` feature"
        )
    };
    match scheme.as_str() {
        "s3" | "s3a" => {
            #[cfg(feature = "aws")]
            {
                crate::cloud::s3(url)
            }
            #[cfg(not(feature = "aws"))]
            {
                Err(feature_missing("aws"))
            }
        }
        "gs" => {
            #[cfg(feature = "gcp")]
            {
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                    .map_err(|e| e.to_string())
            }
            #[cfg(not(feature = "gcp"))]
            {
                Err(feature_missing("gcp"))
            }
        }
        _ => {
            #[cfg(feature = "azure")]
            {
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url.as_str())
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                    .map_err(|e| e.to_string())
            }
            #[cfg(not(feature = "azure"))]
            {
                Err(feature_missing("azure"))
            }
        }
    }
}

/// Flushes `files` to the disk (`fsync`), up to 16 at once: the disk and the file system's
/// journal take concurrent flushes together.
pub(crate) fn flush_all(files: &[&Path]) -> Result<()> {
    const AT_ONCE: usize = 16;
    if files.is_empty() {
        return Ok(());
    }
    let chunk = files.len().div_ceil(AT_ONCE);
    std::thread::scope(|scope| {
        let flushes: Vec<_> = files
            .chunks(chunk)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().try_for_each(|path| {
                        File::open(path)
                            .and_then(|f| f.sync_all())
                            .map_err(|e| Error::io("writing", path.display(), e))
                    })
                })
            })
            .collect();
        flushes.into_iter().try_for_each(|flush| {
            flush.join().unwrap_or_else(|_| {
                Err(Error::format(
                    "writing",
                    "the dataset",
                    "internal: a flushing thread stopped",
                ))
            })
        })
    })
}
