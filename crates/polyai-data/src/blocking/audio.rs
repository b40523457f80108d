//! Recordings, blocking: the request and the download, streamed to a file or any
//! [`std::io::Write`] a chunk at a time.

use std::io::{Read, Write};
use std::path::Path;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

use crate::audio::{AudioStream, BodyCheck, Direction, Progress, SavedAudio};
use crate::blocking::{Runtime, forward, request_options};
use crate::error::Error;
use crate::meta::ResponseMeta;

/// A pending audio request; from [`Agent::audio`](super::Agent::audio).
///
/// ```no_run
/// use polyai_data::audio::Direction;
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// // To a file: checked, renamed into place when complete, fetched again if the body breaks.
/// let saved = agent.audio("CA1").direction(Direction::User).redacted(true).save_to("CA1.wav")?;
/// println!("{} bytes", saved.bytes);
///
/// // To any `std::io::Write`, a chunk at a time.
/// let mut wav = Vec::new();
/// agent.audio("CA1").send()?.write_to(&mut wav)?;
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` or `.save_to(..)` to download"]
#[derive(Debug, Clone)]
pub struct AudioRequest {
    inner: crate::audio::AudioRequest,
    rt: Runtime,
}

forward!(AudioRequest => crate::audio::AudioRequest {
    fn direction(direction: Direction);
    fn redacted(redacted: bool);
});
request_options!(AudioRequest => crate::audio::AudioRequest);

impl AudioRequest {
    pub(crate) fn new(inner: crate::audio::AudioRequest, rt: Runtime) -> Self {
        AudioRequest { inner, rt }
    }

    /// Sends the request; returns once the response headers are in. The body is read by the
    /// returned [`AudioDownload`].
    pub fn send(self) -> Result<AudioDownload, Error> {
        let inner = self.rt.call(self.inner.send())?;
        Ok(AudioDownload { inner, rt: self.rt })
    }

    /// Downloads the recording to `path`, fetching it again when the body breaks part-way, as
    /// [`crate::audio::AudioRequest::save_to`].
    pub fn save_to(self, path: impl AsRef<Path>) -> Result<SavedAudio, Error> {
        let path = path.as_ref().to_path_buf();
        self.rt.call(self.inner.save_to(path))
    }
}

/// A recording whose body is still on the wire; from [`AudioRequest::send`].
///
/// Consume it with [`save_to`](Self::save_to) (checked, atomic), [`write_to`](Self::write_to)
/// (any [`std::io::Write`], checked), [`into_reader`](Self::into_reader) (a [`std::io::Read`]),
/// or [`bytes`](Self::bytes) for small files. Memory stays flat for all but `bytes`: the body
/// crosses from the client's runtime one chunk at a time. The async client's idle, rate and
/// total limits apply.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let download = agent.audio("CA1").send()?;
/// println!("{:?} bytes, correlation id {}", download.content_length(), download.correlation_id());
/// let mut out = std::io::stdout().lock();
/// download.write_to(&mut out)?;
/// # Ok(()) }
/// ```
pub struct AudioDownload {
    inner: crate::audio::AudioDownload,
    rt: Runtime,
}

impl std::fmt::Debug for AudioDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl AudioDownload {
    /// Size announced by the server (`Content-Length`), if any.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// `Content-Type` of the response (normally `audio/wav`).
    pub fn content_type(&self) -> Option<&str> {
        self.inner.content_type()
    }

    /// Correlation id of the request.
    pub fn correlation_id(&self) -> &str {
        self.inner.correlation_id()
    }

    /// Status, correlation id and headers of the response.
    pub fn meta(&self) -> &ResponseMeta {
        self.inner.meta()
    }

    /// The conversation the recording belongs to.
    pub fn conversation_id(&self) -> &str {
        self.inner.conversation_id()
    }

    /// Streams the recording to `path`, checked, and renames it into place when complete, as
    /// [`crate::audio::AudioDownload::save_to`].
    pub fn save_to(self, path: impl AsRef<Path>) -> Result<SavedAudio, Error> {
        let path = path.as_ref().to_path_buf();
        self.rt.call(self.inner.save_to(path))
    }

    /// [`save_to`](Self::save_to), calling `progress` after each chunk (on the client's
    /// runtime thread, so it must not call the blocking client itself).
    pub fn save_to_with_progress(
        self,
        path: impl AsRef<Path>,
        progress: impl FnMut(Progress) + Send + 'static,
    ) -> Result<SavedAudio, Error> {
        let path = path.as_ref().to_path_buf();
        self.rt
            .call(self.inner.save_to_with_progress(path, progress))
    }

    /// Streams the recording into `writer` (a file, standard output, a socket), with the checks
    /// of [`save_to`](Self::save_to), and flushes it; returns the number of bytes. Bytes written
    /// before a failed check cannot be taken back, so an error means "discard what was
    /// written".
    ///
    /// ```no_run
    /// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut file = std::fs::File::create("CA1.wav")?;
    /// let bytes = agent.audio("CA1").send()?.write_to(&mut file)?;
    /// println!("{bytes} bytes");
    /// # Ok(()) }
    /// ```
    pub fn write_to<W: Write + ?Sized>(self, writer: &mut W) -> Result<u64, Error> {
        let mut check = BodyCheck::new(self.inner.conversation_id(), Path::new("<writer>"));
        let mut chunks = self.into_reader();
        let mut written: u64 = 0;
        while let Some(chunk) = chunks.next_chunk()? {
            check.feed(&chunk)?;
            writer
                .write_all(&chunk)
                .map_err(|e| check.io("writing", e))?;
            written += chunk.len() as u64;
        }
        check.finish()?;
        writer.flush().map_err(|e| check.io("flushing", e))?;
        Ok(written)
    }

    /// The body as a [`std::io::Read`], unchecked (as
    /// [`crate::audio::AudioDownload::into_async_read`]); errors are `std::io::Error`s wrapping this
    /// crate's [`Error`].
    ///
    /// ```no_run
    /// # fn f(agent: polyai_data::blocking::Agent) -> std::io::Result<()> {
    /// let download = agent.audio("CA1").send().map_err(std::io::Error::other)?;
    /// let mut reader = download.into_reader();
    /// std::io::copy(&mut reader, &mut std::io::sink())?;
    /// # Ok(()) }
    /// ```
    pub fn into_reader(self) -> AudioReader {
        AudioReader {
            stream: Some(self.inner.bytes_stream()),
            batch: std::collections::VecDeque::new(),
            chunk: Bytes::new(),
            rt: self.rt,
        }
    }

    /// Reads the whole body into memory (fine for short calls).
    pub fn bytes(self) -> Result<Bytes, Error> {
        self.rt.call(self.inner.bytes())
    }
}

/// Most bytes one trip to the runtime brings back: the chunks that arrived by the time the first
/// one did, up to this much.
const BATCH_BYTES: usize = 256 * 1024;

/// A recording's body as a [`std::io::Read`]; from [`AudioDownload::into_reader`].
pub struct AudioReader {
    /// `None` once the body has ended or failed.
    stream: Option<AudioStream>,
    /// Chunks brought back and not yet read, then the error that ended the body, if any.
    batch: std::collections::VecDeque<Result<Bytes, Error>>,
    /// What is left of the chunk being read.
    chunk: Bytes,
    rt: Runtime,
}

impl AudioReader {
    /// The next chunk, `None` at the end. Each trip to the runtime waits for one chunk and takes
    /// the ones already received with it, so a fast body crosses in few trips.
    fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if self.batch.is_empty()
            && let Some(mut stream) = self.stream.take()
        {
            let (stream, batch, more) = self.rt.block_on(async move {
                let mut batch = Vec::new();
                let mut bytes = 0;
                let mut next = stream.next().await;
                while let Some(item) = next {
                    let ok = item.as_ref().map_or(0, |chunk| chunk.len().max(1));
                    bytes += ok;
                    batch.push(item);
                    if ok == 0 || bytes >= BATCH_BYTES {
                        return (stream, batch, ok > 0);
                    }
                    match stream.next().now_or_never() {
                        Some(item) => next = item,
                        None => return (stream, batch, true),
                    }
                }
                (stream, batch, false)
            })?;
            self.batch.extend(batch);
            if more {
                self.stream = Some(stream);
            }
        }
        self.batch.pop_front().transpose()
    }
}

impl Read for AudioReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.next_chunk().map_err(std::io::Error::other)? {
                Some(chunk) => self.chunk = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

impl std::fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioReader")
    }
}
