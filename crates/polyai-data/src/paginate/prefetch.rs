//! A fetch that may run ahead: spawned on the Tokio runtime when prefetching, else polled when
//! awaited. Dropping it aborts a spawned fetch.

use std::future::Future;
use std::pin::Pin;

use crate::error::Error;

/// A boxed, sendable future.
pub(crate) type BoxFuture<R> = Pin<Box<dyn Future<Output = R> + Send>>;

/// A fetch in flight.
pub(crate) enum Prefetched<R> {
    Spawned(AbortOnDrop<Result<R, Error>>),
    Lazy(BoxFuture<Result<R, Error>>),
}

impl<R: Send + 'static> Prefetched<R> {
    /// Starts `future` now on the current runtime when `ahead` (and there is one), else keeps it
    /// to run when awaited.
    pub(crate) fn start(future: BoxFuture<Result<R, Error>>, ahead: bool) -> Self {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if ahead => Prefetched::Spawned(AbortOnDrop(handle.spawn(future))),
            _ => Prefetched::Lazy(future),
        }
    }

    /// Its result.
    pub(crate) async fn wait(self) -> Result<R, Error> {
        match self {
            Prefetched::Lazy(future) => future.await,
            Prefetched::Spawned(mut task) => match (&mut task.0).await {
                Ok(result) => result,
                // The task panicked, or its runtime is shutting down under the walk.
                Err(join) => Err(Error::Internal(format!("a page fetch task failed: {join}"))),
            },
        }
    }
}

/// Aborts a spawned task when dropped, e.g. when a stream is dropped before its end.
pub(crate) struct AbortOnDrop<R>(pub(crate) tokio::task::JoinHandle<R>);

impl<R> Drop for AbortOnDrop<R> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
