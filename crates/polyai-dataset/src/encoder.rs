//! [`Encoder`]: the thread that encodes the files being written.
//!
//! Encoding rows into Parquet (dictionaries, pages, compression) and creating and finishing the
//! files took three quarters of the writer's thread, the one every conversion waits on, while
//! the threads that read records had time to spare. The writer now hands each batch of rows to
//! this thread, in order, and goes on flattening the next records; it waits for the thread only
//! when it commits ([`Encoder::wait`]), so a commit publishes only finished files.
//!
//! A file being encoded is an [`EncodedFile`], shared by the writer (which sends its batches
//! and reads how much it holds in memory) and the thread (which owns its [`FileWriter`]). The
//! first error of any file is kept and reported by the writer's next call
//! ([`Encoder::check`]) or by the commit, and every call after it fails too (naming that file):
//! nothing written after a failure is published.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;

use crate::error::{Error, Result};
use crate::format::{FileSettings, FileWriter};
use crate::schema::Table;

/// Batches waiting for the thread, at most: each up to a few MiB of rows, so memory stays
/// within a few tens of MiB however far the writer runs ahead.
const QUEUE: usize = 8;

/// A file of a table being written on the encoding thread.
#[derive(Debug)]
pub(crate) struct EncodedFile {
    path: PathBuf,
    table: Table,
    settings: FileSettings,
    /// Created with the first batch (its null columns decide the compression of each column).
    writer: Mutex<Option<FileWriter>>,
    /// Bytes of the row group in progress, as of the last batch encoded.
    buffered: AtomicUsize,
}

impl EncodedFile {
    /// A file of `table` to be written at `path` (created with its first batch).
    pub fn new(path: PathBuf, table: Table, settings: FileSettings) -> Arc<EncodedFile> {
        Arc::new(EncodedFile {
            path,
            table,
            settings,
            writer: Mutex::new(None),
            buffered: AtomicUsize::new(0),
        })
    }

    /// Bytes of encoded rows it holds in memory, as of its last batch encoded.
    pub fn buffered(&self) -> usize {
        self.buffered.load(Ordering::Relaxed)
    }

    fn writer(&self) -> MutexGuard<'_, Option<FileWriter>> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, batch: &RecordBatch) -> Result<()> {
        let mut writer = self.writer();
        if writer.is_none() {
            *writer = Some(FileWriter::create_for(
                &self.path,
                self.table,
                self.settings,
                batch,
            )?);
        }
        if let Some(writer) = writer.as_mut() {
            writer.write(batch, &self.path)?;
            self.buffered.store(writer.buffered(), Ordering::Relaxed);
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        if let Some(writer) = self.writer().as_mut() {
            writer.flush(&self.path)?;
        }
        self.buffered.store(0, Ordering::Relaxed);
        Ok(())
    }

    fn close(&self) -> Result<()> {
        self.buffered.store(0, Ordering::Relaxed);
        match self.writer().take() {
            Some(writer) => writer.close(&self.path),
            None => Ok(()),
        }
    }
}

enum Job {
    Write(Arc<EncodedFile>, RecordBatch),
    Flush(Arc<EncodedFile>),
    Close(Arc<EncodedFile>),
    /// Answered when every job sent before it is done.
    Barrier(SyncSender<()>),
}

/// The encoding thread of a writer (see the [module notes](self)).
#[derive(Debug)]
pub(crate) struct Encoder {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    failed: Arc<Failure>,
}

#[derive(Debug, Default)]
struct Failure {
    any: AtomicBool,
    first: Mutex<First>,
}

/// The first failure: the error until it is reported, then what it said.
#[derive(Debug, Default)]
struct First {
    error: Option<Error>,
    path: PathBuf,
    said: Option<String>,
}

impl Failure {
    fn keep(&self, file: &EncodedFile, err: Error) {
        let mut first = self.first.lock().unwrap_or_else(PoisonError::into_inner);
        if first.error.is_none() && first.said.is_none() {
            first.path.clone_from(&file.path);
            first.error = Some(err);
        }
        self.any.store(true, Ordering::Release);
    }
}

impl Encoder {
    /// Starts the thread; should that fail, files are encoded on the caller's thread.
    pub fn start() -> Encoder {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let failed = Arc::new(Failure::default());
        let thread = {
            let failed = Arc::clone(&failed);
            std::thread::Builder::new()
                .name("polyai-encode".into())
                .spawn(move || run(&rx, &failed))
                .ok()
        };
        Encoder {
            jobs: thread.as_ref().map(|_| tx),
            thread,
            failed,
        }
    }

    /// Encodes `batch` into `file` (after the batches sent before it).
    pub fn write(&self, file: &Arc<EncodedFile>, batch: RecordBatch) -> Result<()> {
        self.send(Job::Write(Arc::clone(file), batch))
    }

    /// Ends `file`'s row group in progress (to bound memory).
    pub fn flush(&self, file: &Arc<EncodedFile>) -> Result<()> {
        self.send(Job::Flush(Arc::clone(file)))
    }

    /// Finishes `file` (footer, buffers) and closes it.
    pub fn close(&self, file: &Arc<EncodedFile>) -> Result<()> {
        self.send(Job::Close(Arc::clone(file)))
    }

    /// The first error of a file encoded so far, if any (cheap: an atomic load when none);
    /// once reported, an error that names the file and repeats what it said.
    pub fn check(&self) -> Result<()> {
        if !self.failed.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut first = self
            .failed
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(err) = first.error.take() {
            first.said = Some(err.to_string());
            return Err(err);
        }
        let said = first.said.as_deref().unwrap_or("an error");
        Err(Error::format(
            "writing",
            first.path.display(),
            format!("it failed earlier ({said}); open the dataset again"),
        ))
    }

    /// Waits until every job sent so far is done, then [`check`](Self::check)s.
    pub fn wait(&self) -> Result<()> {
        if let Some(jobs) = &self.jobs {
            let (tx, rx) = sync_channel(1);
            if jobs.send(Job::Barrier(tx)).is_ok() {
                // The thread gone means its jobs are gone: the check below says why, or the
                // files are missing at publication, which says so.
                let _ = rx.recv();
            }
        }
        self.check()
    }

    fn send(&self, job: Job) -> Result<()> {
        match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => self.check(),
                Err(std::sync::mpsc::SendError(job)) => {
                    // The thread stopped (it never does while the writer lives): do it here.
                    perform(job, &self.failed);
                    self.check()
                }
            },
            None => {
                perform(job, &self.failed);
                self.check()
            }
        }
    }
}

impl Encoder {
    /// Lets the thread finish what was sent, then joins it; later jobs are done on the
    /// caller's thread. The writer stops it before it deletes its temporary files.
    pub fn stop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(jobs: &Receiver<Job>, failed: &Failure) {
    for job in jobs {
        perform(job, failed);
    }
}

fn perform(job: Job, failed: &Failure) {
    let (file, result) = match job {
        Job::Write(file, batch) => {
            let result = file.write(&batch);
            (file, result)
        }
        Job::Flush(file) => {
            let result = file.flush();
            (file, result)
        }
        Job::Close(file) => {
            let result = file.close();
            (file, result)
        }
        Job::Barrier(done) => {
            let _ = done.send(());
            return;
        }
    };
    if let Err(err) = result {
        failed.keep(&file, err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Compression, FileFormat};

    fn settings() -> FileSettings {
        FileSettings {
            format: FileFormat::Csv,
            compression: Compression::None,
            row_group_size: 10,
        }
    }

    #[test]
    fn a_files_error_is_reported_once_by_the_next_call_or_the_wait() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let encoder = Encoder::start();
        let record = polyai_data::record::ConversationRecord::from_v3(
            &serde_json::json!({"id": "CA1", "turns": [{"user_input": "hi"}]}),
        )
        .unwrap_or_else(|| panic!("a record"));
        let batch = crate::flatten::record_batches(&record)
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(0)
            .1;
        // A file in a folder that does not exist cannot be created.
        let missing = EncodedFile::new(
            dir.path().join("no/such/file.csv"),
            Table::Conversations,
            settings(),
        );
        // Reported by the write itself when the thread was quick, else by the wait.
        let err = encoder
            .write(&missing, batch.clone())
            .and_then(|()| encoder.wait())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("no/such/file.csv"), "{err}");
        // Every call after fails too, naming the file and what it said.
        let again = encoder
            .wait()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            again.contains("no/such/file.csv") && again.contains("failed earlier"),
            "{again}"
        );
        // A good file is written whole by the time of the wait.
        let encoder = Encoder::start();
        let good = EncodedFile::new(
            dir.path().join("good.csv"),
            Table::Conversations,
            settings(),
        );
        encoder
            .write(&good, batch)
            .unwrap_or_else(|e| panic!("{e}"));
        encoder.close(&good).unwrap_or_else(|e| panic!("{e}"));
        encoder.wait().unwrap_or_else(|e| panic!("{e}"));
        let text =
            std::fs::read_to_string(dir.path().join("good.csv")).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.starts_with("conversation_id,"), "{text}");
    }
}
