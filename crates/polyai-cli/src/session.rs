//! Turning the global options into a configured client: key, region or base URL, agent id,
//! and the embedded sandbox.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use polyai_data::config::{ConfigFile, Profile};
use polyai_data::retry::RetryPolicy;
use polyai_data::{Agent, ApiKey, Client, Region, Timestamp};
use polyai_mock::{MockConfig, MockServer};

use crate::cli::GlobalArgs;
use crate::exit::{CliError, Target};

/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "POLYAI_API_KEY";
/// The window `--min-download-rate` is averaged over.
const DOWNLOAD_RATE_WINDOW: Duration = Duration::from_secs(30);

/// A ready client, the agent id to use, and the sandbox server when one runs in-process.
#[derive(Debug)]
pub struct Session {
    client: Client,
    agent: Option<String>,
    /// `--account` / `POLYAI_ACCOUNT_ID`.
    account: Option<String>,
    /// The sandbox's own account, used when a v3-only flag needs one and none was given.
    sandbox_account: Option<String>,
    /// The clock relative times count back from: the sandbox's data clock, or the system's.
    now: Option<Timestamp>,
    target: Target,
    /// Kept alive for the life of the session; dropping it stops the sandbox.
    _sandbox: Option<MockServer>,
}

impl Session {
    /// Builds the client from the global options. With `--sandbox`, starts the embedded mock on
    /// 127.0.0.1 first and uses its sandbox key and first agent.
    pub async fn open(global: &GlobalArgs) -> Result<Session, CliError> {
        let retry = RetryPolicy::default().max_attempts(global.retries.saturating_add(1));
        let mut builder = Client::builder()
            .app_name("polyai-cli")
            .retry(retry)
            .max_response_bytes(global.max_body_mib.saturating_mul(1024 * 1024))
            .min_download_rate(global.min_download_rate, DOWNLOAD_RATE_WINDOW);
        if let Some(secs) = global.download_timeout {
            builder = builder.download_timeout(Duration::from_secs(secs));
        }
        if global.sandbox {
            let config =
                MockConfig::default().disagree(global.sandbox_disagree.clone().unwrap_or_default());
            let server = MockServer::start(config)
                .await
                .map_err(|e| CliError::Other(format!("cannot start the sandbox: {e}")))?;
            let key = server
                .key()
                .ok_or_else(|| CliError::Other("the sandbox has no API key".into()))?
                .to_owned();
            let agent = global
                .agent
                .clone()
                .or_else(|| server.agent_ids().into_iter().next());
            tracing::info!(base_url = %server.base_url(), ?agent, "sandbox started");
            let client = builder.api_key(key).base_url(server.base_url()).build()?;
            let target = Target {
                host: client.host().to_owned(),
                region: None,
                agent: agent.clone(),
            };
            return Ok(Session {
                client,
                agent,
                account: global.account.clone(),
                sandbox_account: Some(server.account_id().to_owned()),
                now: Some(server.now().into()),
                target,
                _sandbox: Some(server),
            });
        }
        // Flags (and the environment variables clap reads for them) win over the profile.
        let config = ConfigFile::load_default()?;
        let profile = config.select(global.profile.as_deref())?;
        let key = read_key(global.api_key_file.as_deref(), profile)?;
        let base_url = match (&global.base_url, &global.region) {
            (None, None) => profile.and_then(Profile::base_url),
            (url, _) => url.as_deref(),
        };
        let (builder, region) = match (base_url, &global.region) {
            (Some(url), _) => (builder.base_url(url), None),
            (None, Some(name)) => {
                let region: Region = name
                    .parse()
                    .map_err(|e: polyai_data::Error| CliError::Usage(format!("--region: {e}")))?;
                (builder.region(region), Some(region))
            }
            (None, None) => {
                let region = profile.and_then(Profile::region).unwrap_or_default();
                (builder.region(region), Some(region))
            }
        };
        let client = builder.api_key(key).build()?;
        let or_profile = |flag: &Option<String>, value: fn(&Profile) -> Option<&str>| {
            flag.clone()
                .or_else(|| profile.and_then(value).map(str::to_owned))
        };
        let agent = or_profile(&global.agent, Profile::agent);
        let target = Target {
            host: client.host().to_owned(),
            region: region.map(|r| r.name().to_owned()),
            agent: agent.clone(),
        };
        Ok(Session {
            client,
            agent,
            account: or_profile(&global.account, Profile::account),
            sandbox_account: None,
            now: None,
            target,
            _sandbox: None,
        })
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The handle on the selected agent; a usage error when no agent id was given.
    pub fn agent(&self) -> Result<Agent, CliError> {
        match self.agent.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => Ok(self.client.agent(id)),
            _ => Err(CliError::Usage(
                "no agent id: pass --agent ID or set POLYAI_AGENT_ID (Agent Studio → Project ID)"
                    .into(),
            )),
        }
    }

    /// The account to reach the Conversations API v3 with: `--account` / `POLYAI_ACCOUNT_ID`,
    /// or, when `v3_only_flags` name flags only v3 serves, the sandbox's own account; `None`
    /// means the Data API. Fails when such flags were given and no account is known.
    pub fn v3_account(&self, v3_only_flags: &[&str]) -> Result<Option<String>, CliError> {
        let explicit = self
            .account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        if let Some(account) = explicit {
            return Ok(Some(account.to_owned()));
        }
        if v3_only_flags.is_empty() {
            return Ok(None);
        }
        match &self.sandbox_account {
            Some(account) => Ok(Some(account.clone())),
            None => Err(CliError::Usage(format!(
                "{} need{} the Conversations API v3: pass --account ID or set POLYAI_ACCOUNT_ID \
                 (Agent Studio → Workspace ID, e.g. ws-fd112d8f)",
                v3_only_flags.join(", "),
                if v3_only_flags.len() == 1 { "s" } else { "" }
            ))),
        }
    }

    /// The account for the Conversations API v3: `--account` / `POLYAI_ACCOUNT_ID`, else the
    /// sandbox's own; `None` when neither is known.
    pub fn account(&self) -> Option<String> {
        self.account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .or_else(|| self.sandbox_account.clone())
    }

    /// The v3 handle on the selected agent in `account`.
    pub fn project(&self, account: &str) -> Result<polyai_data::v3::Project, CliError> {
        let agent = self.agent()?;
        Ok(self.client.workspace(account).project(agent.id()))
    }

    /// "Now" for relative times (`--since 24h`): the sandbox's clock, else the system's.
    pub fn now(&self) -> Timestamp {
        self.now.unwrap_or_else(Timestamp::now)
    }

    /// Whether the session runs against the embedded sandbox.
    pub fn is_sandbox(&self) -> bool {
        self._sandbox.is_some()
    }

    /// What error hints may mention.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// The API key from `--api-key-file` (a path, or `-` for stdin), else `POLYAI_API_KEY`, else
/// the profile's key file.
fn read_key(file: Option<&Path>, profile: Option<&Profile>) -> Result<ApiKey, CliError> {
    let key = match file {
        Some(path) => read_text(path)?,
        None => std::env::var(ENV_API_KEY).unwrap_or_default(),
    };
    let key = key.trim();
    if !key.is_empty() {
        return Ok(ApiKey::new(key));
    }
    if let Some(path) = file {
        let shown = if path == Path::new("-") {
            "stdin (--api-key-file -)".to_owned()
        } else {
            format!("--api-key-file {}", path.display())
        };
        return Err(CliError::Usage(format!(
            "the API key read from {shown} is empty: put the key from Agent Studio → API Keys \
             in it (or set {ENV_API_KEY})"
        )));
    }
    if file.is_none()
        && let Some(key) = profile.map(Profile::api_key).transpose()?.flatten()
    {
        return Ok(key);
    }
    let profile_hint = match profile {
        Some(p) => format!(", or set api_key_file in profile `{}`", p.name()),
        None => ", or use a profile with api_key_file (polyai config --help)".to_owned(),
    };
    Err(CliError::Usage(format!(
        "no API key: set {ENV_API_KEY} or pass --api-key-file PATH ('-' reads stdin){profile_hint}; \
         try --sandbox to explore without one"
    )))
}

/// Reads a whole text file, or stdin for `-`.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::file("reading", "<stdin>", e))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(|e| CliError::file("reading", path, e))
    }
}
