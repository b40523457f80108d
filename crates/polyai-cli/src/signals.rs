//! Waiting for Ctrl-C (SIGINT) or SIGTERM.

/// The signal that stopped a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): the process exits 130, as shells expect (128 + 2).
    Interrupt,
    /// SIGTERM: the process exits 143 (128 + 15).
    Terminate,
}

/// Completes with the signal when the process receives SIGINT or SIGTERM. Never completes if
/// the handlers cannot be installed.
pub async fn interrupted() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            return std::future::pending().await;
        }
        Signal::Interrupt
    }
}
