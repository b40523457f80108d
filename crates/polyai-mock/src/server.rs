//! Starting, addressing and stopping a mock server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::chat::ChatSessions;
use crate::config::{ApiKey, MockConfig};
use crate::data::Dataset;
use crate::faults::Faults;
use crate::routes::{AppState, router};
use crate::state::{StateData, StateError, Store};

/// How long [`MockServer::shutdown`] lets open responses finish before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding the address failed.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file could not be loaded.
    #[error(transparent)]
    State(#[from] StateError),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A running mock server. Dropping it stops the server; [`MockServer::shutdown`] does so gracefully.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds `config.addr` and starts serving on the current tokio runtime.
    pub async fn start(config: MockConfig) -> Result<MockServer, StartError> {
        if config.conversations >= crate::data::ARRIVAL_BIT {
            return Err(StartError::Config(
                "at most 2^47 conversations per agent".into(),
            ));
        }
        if config.agent_ids.as_ref().map_or(config.agents, Vec::len) >= 1 << 16 {
            return Err(StartError::Config("at most 65535 agents".into()));
        }
        config
            .faults
            .disagree
            .validate()
            .map_err(StartError::Config)?;
        let store = Store::open(config.state_file.clone())?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        let state = Arc::new(AppState {
            samples: std::sync::atomic::AtomicU64::new(0),
            data_slots: std::sync::Mutex::new(None),
            data: Dataset::new(&config),
            store,
            chats: ChatSessions::new(config.seed, config.chat_idle_timeout),
            faults: Faults::new(config.faults.clone(), config.seed),
            config,
        });
        let app = router(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("polyai-mock: server error: {e}");
            }
        });
        Ok(MockServer {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The fault-control handle.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// The keys the server accepts.
    pub fn keys(&self) -> &[ApiKey] {
        &self.state.config.keys
    }

    /// The first accepted key (the sandbox key in a default configuration).
    pub fn key(&self) -> Option<&str> {
        self.state.config.keys.first().map(|k| k.key.as_str())
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &MockConfig {
        &self.state.config
    }

    /// The agent ids, in index order.
    pub fn agent_ids(&self) -> Vec<String> {
        self.state
            .data
            .agents
            .iter()
            .map(|a| a.id.clone())
            .collect()
    }

    /// The account (workspace) id the conversations carry.
    pub fn account_id(&self) -> &str {
        &self.state.data.account_id
    }

    /// The id of conversation `index` (0 = newest) of agent number `agent`.
    pub fn conversation_id(&self, agent: usize, index: u64) -> String {
        self.state.data.conversation_id(agent, index)
    }

    /// Records `n` new conversations for every agent, each newer than all before it, as if calls
    /// had just ended: listings show them first, offsets shift by `n`, v3 cursors taken earlier
    /// do not see them. Returns how many conversations have arrived since the server started.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = polyai_mock::MockServer::start(polyai_mock::MockConfig::default()).await?;
    /// assert_eq!(server.add_conversations(3), 3);
    /// assert_eq!(server.conversation_count(), 203);
    /// # Ok(()) }
    /// ```
    pub fn add_conversations(&self, n: u64) -> u64 {
        self.state.data.add_arrivals(n)
    }

    /// Conversations per agent now: the configured number plus those added since.
    pub fn conversation_count(&self) -> u64 {
        self.state.data.total(self.state.data.arrived())
    }

    /// The id of the `k`-th conversation added by [`MockServer::add_conversations`] (0 = first
    /// added, the oldest of them) of agent number `agent`.
    pub fn added_conversation_id(&self, agent: usize, k: u64) -> String {
        self.state
            .data
            .conversation_id(agent, crate::data::ARRIVAL_BIT | k)
    }

    /// The data's clock: 2026-06-03T14:00:00Z, when the seeded conversations were recorded
    /// (conversation 0 started about a minute and a half before). Relative time ranges against
    /// the mock, such as `polyai --sandbox conversations list --since 7d`, count back from it.
    pub fn now(&self) -> std::time::SystemTime {
        let micros = self.state.data.now().micros;
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64)
    }

    /// Whether conversation `index` of agent number `agent` has a recording.
    pub fn has_recording(&self, agent: usize, index: u64) -> bool {
        self.state.data.conversation(agent, index).has_recording
    }

    /// Number of turns of conversation `index` of agent number `agent`.
    pub fn turn_count(&self, agent: usize, index: u64) -> usize {
        self.state.data.conversation(agent, index).turns.len()
    }

    /// What the disagreement in force (see [`crate::disagree`]) does to conversation `index`
    /// of agent number `agent`: whether a listing leaves it out or sends it twice, and which
    /// facts v3 reports differently.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use polyai_mock::{Disagreement, MockConfig, MockServer};
    /// let all = Disagreement { drop_v3: 1.0, ..Disagreement::default() };
    /// let server = MockServer::start(MockConfig::default().disagree(all)).await?;
    /// assert!(server.disagreed(0, 0).dropped_v3);
    /// # Ok(()) }
    /// ```
    pub fn disagreed(&self, agent: usize, index: u64) -> crate::disagree::Disagreed {
        self.state
            .faults
            .disagreement()
            .of(self.state.config.seed, agent, index)
    }

    /// Notes and annotations stored so far.
    pub fn state(&self) -> StateData {
        self.state.store.snapshot()
    }

    /// Stops accepting, lets open responses finish (up to a few seconds) and waits for the server.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
