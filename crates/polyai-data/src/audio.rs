//! Audio recordings: the request builder and the streaming download handle.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};

use crate::body::content_length;
use crate::error::{Error, TransportKind};
use crate::ids;
use crate::meta::ResponseMeta;
use crate::transport::{CallOptions, Inner};
use crate::wav::WavCheck;

/// Which side of the call a recording holds.
///
/// ```
/// use polyai_data::audio::Direction;
/// assert_eq!(Direction::default(), Direction::Combined);
/// assert_eq!(Direction::User.as_str(), "user");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Direction {
    /// Both sides mixed (the server's default).
    #[default]
    Combined,
    /// The caller only.
    User,
    /// The agent only.
    Agent,
}

impl Direction {
    /// The query value: `combined`, `user` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Combined => "combined",
            Direction::User => "user",
            Direction::Agent => "agent",
        }
    }

    /// The spec's value for the `direction` query parameter.
    fn to_spec(self) -> polyai_data_raw::types::GetConversationAudioDirection {
        use polyai_data_raw::types::GetConversationAudioDirection as Spec;
        match self {
            Direction::Combined => Spec::Combined,
            Direction::User => Spec::User,
            Direction::Agent => Spec::Agent,
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "combined" => Ok(Direction::Combined),
            "user" => Ok(Direction::User),
            "agent" => Ok(Direction::Agent),
            _ => Err(Error::InvalidRequest(format!(
                "unknown audio direction `{s}`; valid: combined, user, agent"
            ))),
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pending audio request; `.send().await` (or `.await`) starts the download.
///
/// ```no_run
/// use polyai_data::audio::Direction;
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let download = client
///     .agent("PROJECT-1")
///     .audio("CA681f3ad0d037c1884614548178a5bc1b")
///     .direction(Direction::User)
///     .redacted(true)
///     .send()
///     .await?;
/// let saved = download.save_to("call.wav").await?;
/// println!("{} bytes", saved.bytes);
/// # Ok(()) }
/// ```
#[must_use = "call `.send().await` to download"]
#[derive(Debug, Clone)]
pub struct AudioRequest {
    pub(crate) inner: Arc<Inner>,
    pub(crate) agent_id: String,
    pub(crate) conversation_id: String,
    pub(crate) direction: Option<Direction>,
    pub(crate) redacted: Option<bool>,
    pub(crate) options: CallOptions,
}

impl AudioRequest {
    /// Which side of the call (default: the server's, `combined`).
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Ask for the PII-redacted recording. Callers without PII permission always get the
    /// redacted one.
    pub fn redacted(mut self, redacted: bool) -> Self {
        self.redacted = Some(redacted);
        self
    }

    /// Sends the request; returns once the response headers are in. The body is streamed by
    /// the returned [`AudioDownload`].
    pub async fn send(self) -> Result<AudioDownload, Error> {
        let exchange = self
            .inner
            .exchange(&self.options)
            .path_ids(&ids::conversation(&self.agent_id, &self.conversation_id))?;
        let request = exchange.build(async |spec| {
            spec.get_conversation_audio(
                &self.agent_id,
                &self.conversation_id,
                self.direction.map(Direction::to_spec),
                self.redacted,
                Some(exchange.correlation_id()),
            )
            .await
        })?;
        let (response, meta) = exchange.stream(request).await?;
        let (min_rate, rate_window) = self.inner.min_download_rate;
        Ok(AudioDownload {
            conversation_id: self.conversation_id,
            content_length: content_length(&meta.headers),
            meta,
            limits: Limits {
                idle: self.inner.idle_timeout,
                min_rate,
                rate_window,
                total: self.inner.download_timeout,
            },
            host: self.inner.host.clone(),
            response,
        })
    }
}

impl AudioRequest {
    /// Downloads the recording to `path` (checked and renamed into place as
    /// [`AudioDownload::save_to`] does), and when the body breaks part-way — a reset or timed-out
    /// connection, fewer bytes than announced, a body that fails the WAV checks — fetches it again
    /// from the start, under the same [`RetryPolicy`](crate::retry::RetryPolicy) (attempts, backoff,
    /// retry budget) as the request itself. An error answer (404, 401, …) or a local file error is
    /// returned at once.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let saved = agent.audio("CA1").redacted(true).save_to("CA1.wav").await?;
    /// println!("{} bytes", saved.bytes);
    /// # Ok(()) }
    /// ```
    pub async fn save_to(self, path: impl AsRef<Path>) -> Result<SavedAudio, Error> {
        let path = path.as_ref();
        let policy = self
            .options
            .retry
            .clone()
            .unwrap_or_else(|| self.inner.retry.clone());
        let mut attempt: u32 = 1;
        loop {
            let download = self.clone().send().await?;
            let err = match download.save_to(path).await {
                Ok(saved) => return Ok(saved),
                Err(err) => err,
            };
            let body_broke = match &err {
                Error::Audio { .. } => true,
                Error::Transport { kind, .. } => {
                    matches!(kind, TransportKind::Timeout | TransportKind::Connection)
                }
                _ => false,
            };
            let delay = (body_broke && attempt < policy.get_max_attempts())
                .then(|| policy.delay(attempt, None))
                .flatten()
                .filter(|_| self.inner.spend_retry());
            let Some(delay) = delay else {
                return Err(err);
            };
            tracing::info!(
                conversation_id = %self.conversation_id,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %err,
                "recording body broke; fetching it again"
            );
            (self.inner.sleeper)(delay).await;
            attempt += 1;
        }
    }
}

crate::options::request_options!(AudioRequest => AudioDownload);

/// Progress of a download, passed to the callback of
/// [`save_to_with_progress`](AudioDownload::save_to_with_progress).
///
/// ```
/// let p = polyai_data::audio::Progress { received: 512, total: Some(1024) };
/// assert_eq!(p.total.map(|t| p.received * 100 / t), Some(50));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes received so far.
    pub received: u64,
    /// Total size, when the server sent `Content-Length`.
    pub total: Option<u64>,
}

/// A recording saved by [`AudioDownload::save_to`].
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let saved = agent.audio("CA1").await?.save_to("CA1.wav").await?;
/// println!("{} bytes in {}", saved.bytes, saved.path.display());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SavedAudio {
    /// Where it was written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A recording whose body is still on the wire.
///
/// Consume it one of four ways: [`save_to`](Self::save_to) (checked, atomic),
/// [`bytes_stream`](Self::bytes_stream), [`into_async_read`](Self::into_async_read), or
/// [`bytes`](Self::bytes) for small files. Memory stays flat for all but `bytes`. Each chunk
/// must arrive within the client's idle timeout, every window must bring the client's minimum
/// rate ([`ClientBuilder::min_download_rate`](crate::ClientBuilder::min_download_rate)), and
/// the whole body must arrive within its download timeout, if one is set.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let download = agent.audio("CA1").await?;
/// println!("{:?} bytes, correlation id {}", download.content_length(), download.correlation_id());
/// download.save_to("CA1.wav").await?;
/// # Ok(()) }
/// ```
pub struct AudioDownload {
    conversation_id: String,
    content_length: Option<u64>,
    meta: ResponseMeta,
    limits: Limits,
    host: String,
    response: reqwest::Response,
}

/// How long and how slowly a download body may take.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Longest silence between chunks.
    idle: Duration,
    /// Least bytes per second over each `rate_window` (0: no check).
    min_rate: u64,
    rate_window: Duration,
    /// Longest time for the whole body.
    total: Option<Duration>,
}

/// A download body being read, with the clocks that bound it.
struct Body {
    response: reqwest::Response,
    limits: Limits,
    received: u64,
    expected: Option<u64>,
    deadline: Option<Instant>,
    window_start: Instant,
    window_bytes: u64,
    last_data: Instant,
    conversation_id: String,
    correlation_id: String,
    host: String,
}

impl Body {
    /// The next chunk, `None` at a complete end, or the error that ends the download.
    async fn next(&mut self) -> Option<Result<Bytes, Error>> {
        loop {
            let now = Instant::now();
            let mut until = self.last_data + self.limits.idle;
            if self.limits.min_rate > 0 {
                until = until.min(self.window_start + self.limits.rate_window);
            }
            if let Some(deadline) = self.deadline {
                until = until.min(deadline);
            }
            let chunk =
                tokio::time::timeout(until.saturating_duration_since(now), self.response.chunk())
                    .await;
            match chunk {
                Ok(Ok(None)) => {
                    return match self.expected {
                        Some(expected) if expected != self.received => Some(Err(Error::Audio {
                            conversation_id: self.conversation_id.clone(),
                            message: format!(
                                "truncated: received {} of {expected} bytes",
                                self.received
                            ),
                        })),
                        _ => None,
                    };
                }
                Ok(Err(err)) => {
                    let (kind, message, source) = crate::transport::classify(err);
                    let message = format!("after {} bytes: {message}", self.received);
                    return Some(Err(self.failure_from(kind, message, source)));
                }
                Ok(Ok(Some(chunk))) => {
                    self.received += chunk.len() as u64;
                    self.window_bytes += chunk.len() as u64;
                    self.last_data = Instant::now();
                    return Some(self.check_clocks().map(|()| chunk));
                }
                Err(_) => {
                    if let Err(error) = self.check_clocks() {
                        return Some(Err(error));
                    }
                    if Instant::now() >= self.last_data + self.limits.idle {
                        let message = format!(
                            "no data for {:?} after {} bytes",
                            self.limits.idle, self.received
                        );
                        return Some(Err(self.failure(TransportKind::Timeout, message)));
                    }
                    // A window ended with enough bytes: keep waiting for the chunk.
                }
            }
        }
    }

    /// Fails when the total deadline has passed or a finished window was too slow; starts
    /// the next window.
    fn check_clocks(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if let Some(total) = self.limits.total
            && self.deadline.is_some_and(|deadline| now >= deadline)
        {
            return Err(self.failure(
                TransportKind::Timeout,
                format!(
                    "the download did not finish within {total:?} ({} bytes received)",
                    self.received
                ),
            ));
        }
        let window = self.limits.rate_window;
        if self.limits.min_rate > 0 && now >= self.window_start + window {
            let needed = self.limits.min_rate as f64 * window.as_secs_f64();
            if (self.window_bytes as f64) < needed {
                return Err(self.failure(
                    TransportKind::Timeout,
                    format!(
                        "too slow: {} bytes in {window:?}, below the minimum of {} bytes/s \
                         ({} bytes received in all)",
                        self.window_bytes, self.limits.min_rate, self.received
                    ),
                ));
            }
            self.window_start = now;
            self.window_bytes = 0;
        }
        Ok(())
    }

    fn failure(&self, kind: TransportKind, message: String) -> Error {
        self.failure_from(kind, message, None)
    }

    fn failure_from(
        &self,
        kind: TransportKind,
        message: String,
        source: Option<crate::transport::Cause>,
    ) -> Error {
        Error::Transport {
            operation: "get_conversation_audio",
            kind,
            host: self.host.clone(),
            message,
            correlation_id: self.correlation_id.clone(),
            source,
        }
    }
}

impl std::fmt::Debug for AudioDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioDownload")
            .field("conversation_id", &self.conversation_id)
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type())
            .field("correlation_id", &self.correlation_id())
            .finish_non_exhaustive()
    }
}

impl AudioDownload {
    /// Size announced by the server (`Content-Length`), if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// `Content-Type` of the response (normally `audio/wav`).
    pub fn content_type(&self) -> Option<&str> {
        self.meta.header("content-type")
    }

    /// Correlation id of the request.
    pub fn correlation_id(&self) -> &str {
        self.meta.correlation_id()
    }

    /// Status, correlation id and headers of the response.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let download = agent.audio("CA1").await?;
    /// println!("{} {:?}", download.meta().status(), download.meta().header("content-disposition"));
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The conversation the recording belongs to.
    pub fn conversation_id(&self) -> &str {
        &self.conversation_id
    }

    /// The body as a stream of chunks. Ends with an error if the connection breaks, a chunk
    /// takes longer than the idle timeout, the download is slower than the minimum rate or
    /// outlasts the download timeout, or fewer bytes than `Content-Length` arrive.
    pub fn bytes_stream(self) -> AudioStream {
        let now = Instant::now();
        let body = Body {
            deadline: self.limits.total.and_then(|total| now.checked_add(total)),
            window_start: now,
            window_bytes: 0,
            last_data: now,
            received: 0,
            expected: self.content_length,
            limits: self.limits,
            conversation_id: self.conversation_id,
            correlation_id: self.meta.correlation_id,
            host: self.host,
            response: self.response,
        };
        let inner = stream::unfold(Some(body), |body| async move {
            let mut body = body?;
            match body.next().await? {
                Ok(chunk) => Some((Ok(chunk), Some(body))),
                Err(error) => Some((Err(error), None)),
            }
        });
        AudioStream {
            inner: inner.boxed(),
        }
    }

    /// The body as a `tokio::io::AsyncRead`. Errors surface as `std::io::Error` wrapping
    /// this crate's [`Error`].
    ///
    /// ```no_run
    /// # async fn f(download: polyai_data::audio::AudioDownload) -> std::io::Result<()> {
    /// let mut reader = download.into_async_read();
    /// let mut out = tokio::io::sink();
    /// tokio::io::copy(&mut reader, &mut out).await?;
    /// # Ok(()) }
    /// ```
    pub fn into_async_read(self) -> impl AsyncRead + Send + Unpin + 'static {
        tokio_util::io::StreamReader::new(
            self.bytes_stream()
                .map(|chunk| chunk.map_err(std::io::Error::other)),
        )
    }

    /// Reads the whole body into memory (fine for short calls; use
    /// [`save_to`](Self::save_to) for anything large).
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let mut stream = self.bytes_stream();
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            body.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(body))
    }

    /// Streams the recording to `path`. See
    /// [`save_to_with_progress`](Self::save_to_with_progress).
    pub async fn save_to(self, path: impl AsRef<Path>) -> Result<SavedAudio, Error> {
        self.save_to_with_progress(path, |_| {}).await
    }

    /// Streams the recording to `path`, checked, calling `progress` after each chunk.
    ///
    /// Checks: the body is a RIFF/WAVE file with a `fmt ` chunk and a `data` chunk, its length
    /// matches `Content-Length` when sent and is at least what the RIFF header and the `data`
    /// chunk declare.
    ///
    /// What happens depends on what `path` is:
    /// - **missing or a regular file**: the body goes to a new temporary file next to `path`
    ///   (`.<name>.<random>.part`, created exclusively), which is flushed, `fsync`ed and
    ///   renamed to `path` only when complete and checked. On any failure (including the
    ///   future being dropped) the temporary file is removed and `path` is left untouched, so
    ///   a partial download never looks like a complete file.
    /// - **a FIFO, a character or block device or a socket** (`/dev/null`, a named pipe): the
    ///   body is written to it directly, never replacing it; bytes written before a failed
    ///   check cannot be taken back.
    /// - **a symbolic link, a directory or anything else**: refused with [`Error::Io`], and
    ///   nothing is written. A link is neither replaced nor followed; pass the path it points
    ///   to if that is where the recording belongs.
    ///
    /// ```no_run
    /// # async fn f(download: polyai_data::audio::AudioDownload) -> Result<(), polyai_data::Error> {
    /// download
    ///     .save_to_with_progress("call.wav", |p| {
    ///         eprint!("\r{} / {:?} bytes", p.received, p.total);
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn save_to_with_progress(
        self,
        path: impl AsRef<Path>,
        progress: impl FnMut(Progress) + Send,
    ) -> Result<SavedAudio, Error> {
        let path = path.as_ref().to_path_buf();
        let target = match tokio::fs::symlink_metadata(&path).await {
            Ok(meta) => Some(meta.file_type()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(Error::Io {
                    action: "inspecting",
                    path,
                    source,
                });
            }
        };
        let refuse = |what: &str| Error::Io {
            action: "refusing to replace",
            path: path.clone(),
            source: std::io::Error::other(format!(
                "it is {what}; give the path of a file to write"
            )),
        };
        match target {
            None => {}
            Some(kind) if kind.is_file() => {}
            Some(kind) if kind.is_symlink() => {
                return Err(refuse(
                    "a symbolic link (neither replaced nor followed; pass the path it points to)",
                ));
            }
            Some(kind) if kind.is_dir() => return Err(refuse("a directory")),
            Some(kind) if is_special(kind) => {
                let mut file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .await
                    .map_err(|source| Error::Io {
                        action: "opening",
                        path: path.clone(),
                        source,
                    })?;
                let bytes = self.copy_checked(&mut file, &path, progress).await?;
                return Ok(SavedAudio { path, bytes });
            }
            Some(_) => return Err(refuse("not a regular file")),
        }
        let (temp, file) = TempFile::create(&path).map_err(|(temp, source)| Error::Io {
            action: "creating",
            path: temp,
            source,
        })?;
        let file = tokio::fs::File::from_std(file);
        let mut writer = BufWriter::with_capacity(256 * 1024, file);
        let bytes = self.copy_checked(&mut writer, &temp.path, progress).await?;
        let file = writer.into_inner();
        file.sync_all().await.map_err(|source| Error::Io {
            action: "syncing",
            path: temp.path.clone(),
            source,
        })?;
        drop(file);
        tokio::fs::rename(&temp.path, &path)
            .await
            .map_err(|source| Error::Io {
                action: "renaming into",
                path: path.clone(),
                source,
            })?;
        temp.disarm();
        sync_parent_dir(&path).await;
        Ok(SavedAudio { path, bytes })
    }

    /// Streams the recording into `writer` (standard output, a pipe, a socket), with the
    /// checks of [`save_to`](Self::save_to), and flushes it; returns the number of bytes.
    /// Unlike `save_to`, bytes written before a failed check cannot be taken back, so the
    /// error must be treated as "discard what was written".
    ///
    /// ```no_run
    /// # async fn f(download: polyai_data::audio::AudioDownload) -> Result<(), polyai_data::Error> {
    /// let mut wav = Vec::new(); // or tokio::io::stdout(), a socket, a pipe
    /// let bytes = download.write_to(&mut wav).await?;
    /// assert_eq!(bytes, wav.len() as u64);
    /// # Ok(()) }
    /// ```
    pub async fn write_to<W>(self, writer: &mut W) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        self.copy_checked(writer, Path::new("<writer>"), |_| {})
            .await
    }

    /// Copies the body into `writer`, checking the WAV structure and the length, then
    /// flushes; `label` names the destination in errors.
    async fn copy_checked<W>(
        self,
        writer: &mut W,
        label: &Path,
        mut progress: impl FnMut(Progress) + Send,
    ) -> Result<u64, Error>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let total = self.content_length;
        let mut check = BodyCheck::new(&self.conversation_id, label);
        let mut received: u64 = 0;
        let mut stream = self.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            check.feed(&chunk)?;
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| check.io("writing", e))?;
            received += chunk.len() as u64;
            progress(Progress { received, total });
        }
        check.finish()?;
        writer.flush().await.map_err(|e| check.io("flushing", e))?;
        Ok(received)
    }
}

/// The checks of a recording's body as it is copied — a RIFF/WAVE structure, complete at the
/// end — and the errors that end the copy, for the async and the blocking writers alike.
pub(crate) struct BodyCheck {
    wav: WavCheck,
    conversation_id: String,
    /// Names the destination in I/O errors.
    label: PathBuf,
}

impl BodyCheck {
    pub(crate) fn new(conversation_id: &str, label: &Path) -> Self {
        BodyCheck {
            wav: WavCheck::default(),
            conversation_id: conversation_id.to_owned(),
            label: label.to_path_buf(),
        }
    }

    /// Checks the next chunk, before it is written.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.wav.feed(chunk);
        self.wav.invalid().map_or(Ok(()), |m| Err(self.invalid(m)))
    }

    /// Checks that the body was complete, after the last chunk.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        self.wav
            .check_complete()
            .map_or(Ok(()), |m| Err(self.invalid(m)))
    }

    /// A failure of the destination while `action` (`writing`, `flushing`).
    pub(crate) fn io(&self, action: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: self.label.clone(),
            source,
        }
    }

    fn invalid(&self, message: String) -> Error {
        Error::Audio {
            conversation_id: self.conversation_id.clone(),
            message,
        }
    }
}

/// A FIFO, a device or a socket: written to in place, never replaced.
fn is_special(kind: std::fs::FileType) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        kind.is_fifo() || kind.is_char_device() || kind.is_block_device() || kind.is_socket()
    }
    #[cfg(not(unix))]
    {
        let _ = kind;
        false
    }
}

/// The body of an [`AudioDownload`] as a [`Stream`] of chunks.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// use futures_util::StreamExt;
/// let mut chunks = agent.audio("CA1").await?.bytes_stream();
/// while let Some(chunk) = chunks.next().await {
///     let chunk = chunk?;
///     println!("{} bytes", chunk.len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AudioStream {
    inner: BoxStream<'static, Result<Bytes, Error>>,
}

impl Stream for AudioStream {
    type Item = Result<Bytes, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl std::fmt::Debug for AudioStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioStream")
    }
}

/// Ending of the temporary files [`AudioDownload::save_to`] writes (`.<name>.<random>.part`).
const PART_SUFFIX: &str = ".part";

/// Whether `path` names a temporary file that [`AudioDownload::save_to`] writes next to its
/// target (`.<name>.<random>.part`). A finished or failed save removes its own; a killed process
/// leaves one behind, which is safe to delete while no download into that folder is running.
///
/// ```
/// use std::path::Path;
///
/// assert!(polyai_data::audio::is_partial_download(Path::new("audio/.CA1.wav.0123456789ab.part")));
/// assert!(!polyai_data::audio::is_partial_download(Path::new("audio/CA1.wav")));
/// ```
pub fn is_partial_download(path: &Path) -> bool {
    path.file_name().is_some_and(|name| {
        let name = name.to_string_lossy();
        name.starts_with('.') && name.ends_with(PART_SUFFIX)
    })
}

/// A `.part` file next to the target, removed on drop unless disarmed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    fn new(target: &Path) -> Self {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "audio.wav".into());
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let file = format!(".{name}.{}{PART_SUFFIX}", &unique[..12]);
        TempFile {
            path: target.with_file_name(file),
            armed: true,
        }
    }

    /// Creates the file and arms its removal in one step, synchronously: with an async create
    /// (a blocking-pool task), a future dropped while the create is pending would remove
    /// nothing and the pool would create the file afterwards, leaving an empty `.part` behind.
    fn create(target: &Path) -> Result<(TempFile, std::fs::File), (PathBuf, std::io::Error)> {
        let temp = TempFile::new(target);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp.path)
        {
            Ok(file) => Ok((temp, file)),
            Err(e) => Err((temp.disarmed_path(), e)),
        }
    }

    /// The path, with removal disarmed (the file was never created).
    fn disarmed_path(mut self) -> PathBuf {
        self.armed = false;
        std::mem::take(&mut self.path)
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn sync_parent_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(handle) = tokio::fs::File::open(dir).await {
            let _ = handle.sync_all().await;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_file_is_hidden_in_the_same_dir_and_removed_on_drop() {
        let dir = std::env::temp_dir().join(format!("polyai-temp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok();
        let temp = TempFile::new(&dir.join("a.wav"));
        assert_eq!(temp.path.parent(), Some(dir.as_path()));
        assert!(
            temp.path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".a.wav."))
        );
        assert!(is_partial_download(&temp.path));
        std::fs::write(&temp.path, b"x").ok();
        let p = temp.path.clone();
        drop(temp);
        assert!(!p.exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn direction_parses() {
        assert_eq!("USER".parse::<Direction>().ok(), Some(Direction::User));
        assert!("both".parse::<Direction>().is_err());
    }
}
