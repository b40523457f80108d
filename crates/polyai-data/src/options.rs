//! Per-call overrides shared by every operation builder.

/// Adds `.retry()`, `.no_retry()`, `.timeout()` and `.correlation_id()` to an operation
/// builder that has an `options: CallOptions` field and an `async fn send(self)`, and makes
/// the builder awaitable (`IntoFuture` calling `send`).
macro_rules! request_options {
    ($builder:ty => $output:ty) => {
        impl ::std::future::IntoFuture for $builder {
            type Output = ::std::result::Result<$output, $crate::Error>;
            type IntoFuture =
                ::std::pin::Pin<Box<dyn ::std::future::Future<Output = Self::Output> + Send>>;
            fn into_future(self) -> Self::IntoFuture {
                Box::pin(self.send())
            }
        }

        impl $builder {
            /// Overrides the client's retry policy for this call.
            pub fn retry(mut self, policy: $crate::retry::RetryPolicy) -> Self {
                self.options.retry = Some(policy);
                self
            }

            /// Disables retries for this call.
            pub fn no_retry(self) -> Self {
                self.retry($crate::retry::RetryPolicy::disabled())
            }

            /// Overrides the per-attempt timeout for this call.
            pub fn timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.options.timeout = Some(timeout);
                self
            }

            /// Sends this correlation id instead of a fresh `polyai-rs-<uuid>` (it is reused
            /// across retries either way).
            pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
                self.options.correlation_id = Some(id.into());
                self
            }
        }
    };
}

pub(crate) use request_options;
