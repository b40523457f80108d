//! [`Syncer`]: one run that brings a [`Store`] up to date with an agent's conversations.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use polyai_data::listing::Environments;
use polyai_data::{Client, Timestamp};

use crate::error::SyncError;
use crate::record::format_micros;
use crate::source::Source;
use crate::store::{self, Store, SyncCounts};
use crate::walk::{Flow, Settings, V3Settings, Walker, blocking};

/// Default listing page size of the Data API walk (the v3 walk asks for
/// [`polyai_data::v3::MAX_LIMIT`], 1000, by default).
pub const DEFAULT_PAGE_SIZE: u64 = 250;
/// Default overlap of a v3 walk: it starts this long before the newest stored conversation of
/// its environment, so conversations that appear in the listing late are still found.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(3600);

/// Which listing a sync reads.
///
/// ```
/// let api = polyai_store::Api::V3 { account_id: "ws-fd112d8f".into() };
/// assert_eq!(api.name(), "v3");
/// assert_eq!(polyai_store::Api::DataApi.name(), "data");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Api {
    /// The Data API (`/v1/agents/…`): newest-first offset pages of summaries, then each new
    /// conversation's detail — turns, function events, metrics, summary, note, tags.
    DataApi,
    /// The Conversations API v3 of this account (Agent Studio workspace id): pages by start time
    /// and cursor, turns inline, one listing per environment — a request per 1000
    /// conversations instead of one per conversation, but no function events, summary, note or
    /// tags (the README's schema section lists what each API fills).
    V3 {
        /// The account (workspace) id, e.g. `ws-fd112d8f`.
        account_id: String,
    },
}

impl Api {
    /// `data` or `v3`, as recorded in `sync_runs.api` and `conversations.api` (the record
    /// contract's names: [`polyai_data::record::Api`]).
    pub fn name(&self) -> &'static str {
        match self {
            Api::DataApi => polyai_data::record::Api::Data.as_str(),
            Api::V3 { .. } => polyai_data::record::Api::V3.as_str(),
        }
    }
}
/// Default number of conversations read at once.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Default refresh window: conversations younger than this are read again on every run.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(2 * 86_400);

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncStatus {
    /// The database holds every listed conversation (those that failed are counted and tried
    /// again next run).
    Complete,
    /// Stopped on request ([`Syncer::run_until`]); the next run goes on from the last page
    /// committed.
    Interrupted,
}

/// What a run did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncReport {
    /// Its row in `sync_runs`.
    pub run_id: i64,
    /// The listing it read: `v1` (the Data API) or `v3`.
    pub api: &'static str,
    /// How it ended.
    pub status: SyncStatus,
    /// Its counters.
    pub counts: SyncCounts,
    /// Conversations of the agent in the database afterwards.
    pub stored: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// The first conversation that could not be read and why, when one could not.
    pub first_failure: Option<String>,
}

/// One sync of an agent's conversations into a [`Store`].
///
/// The first run stores every conversation with its turns, function events and metrics; later
/// runs read only the conversations not stored yet (the listing is newest first, so they stop
/// after a full page of stored ones), and read again those younger than the refresh window,
/// because notes and in-progress calls change. Each listing page is committed in one
/// transaction: a run killed at any point loses at most the page in flight, and the next run
/// goes on from there (see the notes of the walk in the crate documentation).
///
/// Needs a Tokio runtime (database work runs on its blocking pool).
///
/// ```no_run
/// use std::time::Duration;
///
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let client = polyai_data::Client::from_env()?;
/// let store = polyai_store::Store::open("conversations.db")?;
/// let report = polyai_store::Syncer::new(&store, &client, "PROJECT-58RP822I")
///     .refresh_window(Duration::from_secs(86_400))
///     .concurrency(16)
///     .run()
///     .await?;
/// println!("{} new, {} refreshed, {} stored", report.counts.new, report.counts.refreshed, report.stored);
/// # Ok(()) }
/// ```
pub struct Syncer<'a> {
    store: &'a Store,
    client: &'a Client,
    agent_id: String,
    api: Api,
    page_size: Option<u64>,
    overlap: Duration,
    concurrency: usize,
    refresh: Duration,
    now: Option<Timestamp>,
    audio_dir: Option<PathBuf>,
    full: bool,
    max_pages: Option<u64>,
    origin: Option<String>,
    environments: Environments,
    progress: Box<dyn Fn(&SyncCounts) + Send + Sync + 'a>,
}

impl std::fmt::Debug for Syncer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Syncer")
            .field("store", &self.store.path())
            .field("host", &self.client.host())
            .field("agent_id", &self.agent_id)
            .field("api", &self.api)
            .field("page_size", &self.page_size)
            .field("overlap", &self.overlap)
            .field("concurrency", &self.concurrency)
            .field("refresh", &self.refresh)
            .field("audio_dir", &self.audio_dir)
            .field("full", &self.full)
            .field("max_pages", &self.max_pages)
            .field("origin", &self.origin)
            .field("environments", &self.environments)
            .finish_non_exhaustive()
    }
}

impl<'a> Syncer<'a> {
    /// A sync of agent `agent_id`, read through `client`, into `store`.
    pub fn new(store: &'a Store, client: &'a Client, agent_id: impl Into<String>) -> Self {
        Syncer {
            store,
            client,
            agent_id: agent_id.into(),
            api: Api::DataApi,
            page_size: None,
            overlap: DEFAULT_OVERLAP,
            concurrency: DEFAULT_CONCURRENCY,
            refresh: DEFAULT_REFRESH,
            now: None,
            audio_dir: None,
            full: false,
            max_pages: None,
            origin: None,
            environments: Environments::All,
            progress: Box::new(|_| {}),
        }
    }

    /// The environments stored (default: all). A database keeps the environments of its first
    /// run: a run with others fails with [`StoreError::OtherEnvironments`](crate::StoreError).
    /// The Data API lists every environment and the others are skipped; v3 walks each one
    /// asked for.
    ///
    /// ```no_run
    /// use polyai_data::listing::Environments;
    /// # async fn f(store: polyai_store::Store, client: polyai_data::Client) -> Result<(), polyai_store::SyncError> {
    /// polyai_store::Syncer::new(&store, &client, "PROJECT-1")
    ///     .environments("live".parse()?)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn environments(mut self, environments: Environments) -> Self {
        self.environments = environments;
        self
    }

    /// Conversations per listing page: for the Data API at least 2, because consecutive pages
    /// overlap (default 250); for v3 1 to 1000 (default 1000).
    pub fn page_size(mut self, page_size: u64) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Read through this listing (default [`Api::DataApi`]). A database may be synced through
    /// either, and switch between them: each keeps the other's state exact.
    ///
    /// ```no_run
    /// # async fn f(store: polyai_store::Store, client: polyai_data::Client) -> Result<(), polyai_store::SyncError> {
    /// let api = polyai_store::Api::V3 { account_id: "ws-fd112d8f".into() };
    /// polyai_store::Syncer::new(&store, &client, "PROJECT-58RP822I").api(api).run().await?;
    /// # Ok(()) }
    /// ```
    pub fn api(mut self, api: Api) -> Self {
        self.api = api;
        self
    }

    /// How long before the newest stored conversation of an environment a v3 walk starts
    /// (default one hour), for conversations that reach the listing late.
    pub fn overlap(mut self, overlap: Duration) -> Self {
        self.overlap = overlap;
        self
    }

    /// Conversations read at once (default 8; 1 to 256).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Read stored conversations again when they started less than this long ago (default two
    /// days; zero reads nothing again).
    pub fn refresh_window(mut self, window: Duration) -> Self {
        self.refresh = window;
        self
    }

    /// The time the refresh window counts back from (default: now). For a server whose data
    /// has its own clock, such as the mock's.
    pub fn now(mut self, now: Timestamp) -> Self {
        self.now = Some(now);
        self
    }

    /// Also save each conversation's combined recording in `DIR`, named by
    /// [`polyai_data::file_name_for_id`] (`ID.wav` for an ordinary id; any other id still gets a
    /// file of its own inside `DIR`), recorded in `conversations.audio_file`, including
    /// recordings of conversations stored earlier without one.
    pub fn with_audio(mut self, dir: impl Into<PathBuf>) -> Self {
        self.audio_dir = Some(dir.into());
        self
    }

    /// Walk the whole listing instead of stopping at the stored history: stores anything
    /// missing wherever it is (a repair; costs one listing request per page).
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// Stop once this many listing pages are committed, before listing another (at least 1;
    /// default: no limit). The run ends as [`SyncStatus::Interrupted`] and the next run goes on
    /// from there, as after Ctrl-C — but at an exact place: for a job that must do a bounded
    /// amount of work per run, and for tests of resuming.
    ///
    /// ```no_run
    /// # async fn f(store: polyai_store::Store, client: polyai_data::Client) -> Result<(), polyai_store::SyncError> {
    /// let report = polyai_store::Syncer::new(&store, &client, "PROJECT-1").max_pages(10).run().await?;
    /// assert!(report.counts.pages <= 10);
    /// # Ok(()) }
    /// ```
    pub fn max_pages(mut self, pages: u64) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// The name recorded for where the conversations come from (default: the client's host,
    /// e.g. `api.us.poly.ai`). An agent's conversations are only ever synced from one origin
    /// into a database; a run from another fails with
    /// [`StoreError::OtherHost`](crate::StoreError::OtherHost).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Called after each committed page with the run's counters so far.
    pub fn on_progress(mut self, progress: impl Fn(&SyncCounts) + Send + Sync + 'a) -> Self {
        self.progress = Box::new(progress);
        self
    }

    /// Runs the sync to its end.
    pub async fn run(self) -> Result<SyncReport, SyncError> {
        self.run_until(std::future::pending()).await
    }

    /// Runs the sync until it ends or `stop` completes (e.g. on Ctrl-C). A stopped run keeps
    /// every committed page, is recorded as `interrupted`, and returns
    /// [`SyncStatus::Interrupted`].
    ///
    /// ```no_run
    /// # async fn f(store: polyai_store::Store, client: polyai_data::Client) -> Result<(), polyai_store::SyncError> {
    /// let stop = async { tokio::signal::ctrl_c().await.ok(); };
    /// let report = polyai_store::Syncer::new(&store, &client, "PROJECT-1").run_until(stop).await?;
    /// println!("{:?}", report.status);
    /// # Ok(()) }
    /// ```
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<SyncReport, SyncError> {
        let agent = self.client.agent(self.agent_id.clone());
        // The origin is the Data API host of the region whichever listing is read, so that one
        // database can switch between them.
        let origin = self.origin.as_deref().unwrap_or(self.client.host());
        let v3 = match &self.api {
            Api::DataApi => None,
            Api::V3 { account_id } => Some((
                self.client
                    .workspace(account_id.clone())
                    .project(self.agent_id.clone()),
                self.v3_settings(account_id)?,
            )),
        };
        let v3 = v3.as_ref().map(|(project, settings)| (project, settings));
        self.run_source(&agent, origin, v3, stop).await
    }

    /// Runs the walk over `source` (the Data API listing), or over the v3 listing when `v3` is
    /// given (then `source` serves the retries and recordings).
    pub(crate) async fn run_source<S: Source>(
        &self,
        source: &S,
        host: &str,
        v3: Option<(&polyai_data::v3::Project, &V3Settings)>,
        stop: impl Future<Output = ()>,
    ) -> Result<SyncReport, SyncError> {
        let settings = self.settings()?;
        let started = Instant::now();
        let agent = self.agent_id.clone();
        let host_owned = host.to_owned();
        let api = self.api.name();
        let environments = self.environments.to_string();
        let run_id = blocking(self.store, move |conn| {
            store::start_run(conn, &agent, &host_owned, api, &environments)
        })
        .await?;
        let settings = Settings { run_id, ..settings };
        let outcome = {
            let mut walker =
                Walker::new(source, self.store.clone(), settings, &*self.progress).await?;
            let work = async {
                let flow = match v3 {
                    Some((project, v3)) => walker.walk_v3(project, v3).await?,
                    None => walker.walk().await?,
                };
                if flow == Flow::PageLimit {
                    return Ok(SyncStatus::Interrupted);
                }
                walker.catch_up().await?;
                Ok::<_, SyncError>(SyncStatus::Complete)
            };
            let result = match select(pin!(work), pin!(stop)).await {
                Either::Left((result, _)) => result,
                Either::Right(((), _)) => Ok(SyncStatus::Interrupted),
            };
            (result, walker.counts, walker.first_failure.clone())
        };
        let (result, counts, first_failure) = outcome;
        let (status, error) = match &result {
            Ok(SyncStatus::Complete) => ("complete", None),
            Ok(SyncStatus::Interrupted) => ("interrupted", None),
            Err(err) => ("failed", Some(err.to_string())),
        };
        let finished = blocking(self.store, move |conn| {
            store::finish_run(conn, run_id, status, error.as_deref(), &counts)
        })
        .await;
        let status = result?;
        finished?;
        let stored = {
            let store = self.store.clone();
            let agent = self.agent_id.clone();
            tokio::task::spawn_blocking(move || store.conversation_count(Some(&agent)))
                .await
                .unwrap_or(Ok(0))?
        };
        Ok(SyncReport {
            run_id,
            api,
            status,
            counts,
            stored,
            elapsed: started.elapsed(),
            first_failure,
        })
    }

    fn v3_settings(&self, account_id: &str) -> Result<V3Settings, SyncError> {
        let page_size = self.page_size.unwrap_or(polyai_data::v3::MAX_LIMIT);
        if !(1..=polyai_data::v3::MAX_LIMIT).contains(&page_size) {
            return Err(SyncError::Options(format!(
                "the v3 page size must be 1 to {}, not {page_size}",
                polyai_data::v3::MAX_LIMIT
            )));
        }
        if account_id.trim().is_empty() {
            return Err(SyncError::Options("the account id is empty".into()));
        }
        Ok(V3Settings {
            account_id: account_id.to_owned(),
            overlap: self.overlap,
            refresh_from: self.refresh_from()?,
            page_size,
        })
    }

    /// The start of the refresh window (`None` without one).
    fn refresh_from(&self) -> Result<Option<Timestamp>, SyncError> {
        if self.refresh.is_zero() {
            return Ok(None);
        }
        let now = self.now.unwrap_or_else(Timestamp::now);
        now.checked_sub(self.refresh).map(Some).ok_or_else(|| {
            SyncError::Options(format!("the refresh window {:?} is too long", self.refresh))
        })
    }

    fn settings(&self) -> Result<Settings, SyncError> {
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if self.api == Api::DataApi && page_size < 2 {
            return Err(SyncError::Options(format!(
                "the page size must be at least 2, not {page_size}"
            )));
        }
        if !(1..=256).contains(&self.concurrency) {
            return Err(SyncError::Options(format!(
                "the concurrency must be 1 to 256, not {}",
                self.concurrency
            )));
        }
        let refresh_from = self
            .refresh_from()?
            .and_then(|from| format_micros(from.unix_micros()));
        if self.agent_id.trim().is_empty() {
            return Err(SyncError::Options("the agent id is empty".into()));
        }
        if self.max_pages == Some(0) {
            return Err(SyncError::Options(
                "the page limit must be at least 1 (leave it unset for no limit)".into(),
            ));
        }
        if let Some(dir) = &self.audio_dir {
            std::fs::create_dir_all(dir).map_err(|source| crate::StoreError::Io {
                action: "creating",
                path: dir.clone(),
                source,
            })?;
            remove_partial_downloads(dir);
        }
        Ok(Settings {
            agent_id: self.agent_id.clone(),
            run_id: 0,
            page_size,
            overlap: (page_size / 10).clamp(1, 50),
            concurrency: self.concurrency,
            refresh_from,
            audio_dir: self.audio_dir.clone(),
            full: self.full,
            max_pages: self.max_pages,
            environments: self.environments,
        })
    }
}

/// Removes the temporary files of downloads a killed run left in `dir`.
fn remove_partial_downloads(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if polyai_data::audio::is_partial_download(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
