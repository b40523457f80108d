//! Waiting for Ctrl-C (SIGINT) or SIGTERM.

/// The signal that stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): the process exits 130, as shells expect (128 + 2).
    Interrupt,
    /// SIGTERM: the process exits 143 (128 + 15).
    Terminate,
}

/// Installs the handlers now (call it inside the runtime) and returns a future that completes
/// with the signal when the process receives SIGINT or SIGTERM. Never completes if the handlers
/// cannot be installed.
pub fn interrupted() -> impl std::future::Future<Output = Signal> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            let (Ok(mut int), Ok(mut term)) = handlers else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        Signal::Interrupt
    }
}
