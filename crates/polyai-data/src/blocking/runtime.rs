//! The runtime behind the blocking client: a current-thread Tokio runtime driven by a thread of
//! its own, and the one way blocking calls reach it ([`Runtime::block_on`]).
//!
//! Every call runs its async counterpart as a task on that runtime and waits for the result on a
//! standard channel. The calling thread never enters a Tokio runtime, so nothing here can hit
//! Tokio's "cannot block inside a runtime" panics; and because the runtime is driven all the
//! time, work a call leaves behind (a listing's prefetched pages) goes on while the caller works
//! on what it got.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;

use crate::error::Error;

/// A shared handle on the runtime; the runtime stops when the last one is dropped.
#[derive(Clone)]
pub(crate) struct Runtime {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Runtime")
    }
}

struct Shared {
    handle: tokio::runtime::Handle,
    /// Dropped with the last handle: the driver thread then shuts the runtime down (aborting
    /// tasks still running, such as prefetches nobody will read) and ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Runtime {
    /// Starts the runtime and the thread that drives it.
    pub(crate) fn start() -> Result<Runtime, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Config(format!(
                    "could not start the blocking client's runtime: {e}"
                ))
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("polyai-blocking".into())
            .spawn(move || {
                runtime.block_on(async {
                    // An error means the sender was dropped: the client is gone.
                    let _ = stopped.await;
                });
                // Dropped here, outside any runtime context, so dropping it cannot panic.
                drop(runtime);
            })
            .map_err(|e| {
                Error::Config(format!(
                    "could not start the blocking client's runtime thread: {e}"
                ))
            })?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                handle,
                _stop: stop,
            }),
        })
    }

    /// Runs `future` on the runtime and waits for its output.
    ///
    /// Fails with [`Error::BlockingInAsync`] when the calling thread runs async tasks (a Tokio
    /// worker, the thread of a current-thread runtime, or this runtime's own thread from inside
    /// a callback), where waiting would stall every task of that runtime — or deadlock it, when
    /// the server being called runs there too. A panic in the future is resumed on the caller's
    /// thread, as the async client's would surface in the caller's task.
    pub(crate) fn block_on<F>(&self, future: F) -> Result<F::Output, Error>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        refuse_inside_async()?;
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        self.shared.handle.spawn(async move {
            let output = AssertUnwindSafe(future).catch_unwind().await;
            // The caller waits on the other end, so the channel is open.
            let _ = send.send(output);
        });
        match receive.recv() {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            // The task was dropped unfinished, which only a runtime shutting down does, and this
            // handle keeps the runtime running.
            Err(_) => Err(Error::Internal(
                "the blocking client's runtime stopped during a call".into(),
            )),
        }
    }

    /// [`block_on`](Self::block_on) for a call of the async client.
    pub(crate) fn call<T, F>(&self, future: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>> + Send + 'static,
        T: Send + 'static,
    {
        self.block_on(future)?
    }

    /// The next item of `stream`, which travels to the runtime and back with it.
    pub(crate) fn next<S>(&self, mut stream: S) -> Result<(S, Option<S::Item>), Error>
    where
        S: futures_util::Stream + Unpin + Send + 'static,
        S::Item: Send + 'static,
    {
        use futures_util::StreamExt;
        self.block_on(async move {
            let item = stream.next().await;
            (stream, item)
        })
    }
}

/// [`Error::BlockingInAsync`] on a thread that is running async tasks right now. A thread of
/// `spawn_blocking`, the inside of `block_in_place`, and the thread of a multi-thread runtime's
/// `block_on` are not such threads: blocking there stalls no other task.
fn refuse_inside_async() -> Result<(), Error> {
    match tokio::runtime::worker_index() {
        Some(_) => Err(Error::BlockingInAsync),
        None => Ok(()),
    }
}
