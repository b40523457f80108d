//! Server configuration: seed, data sizes, keys, region, audio format and timeouts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::faults::FaultConfig;

/// The well-known key every default configuration accepts, so a sandbox needs no user key.
pub const SANDBOX_KEY: &str = "sandbox-key";

/// The id of the first generated agent, whatever the seed, so examples can name it
/// (`/v1/agents/PROJECT-58RP822I/...`). The other agents' ids derive from the seed.
pub const SANDBOX_AGENT: &str = "PROJECT-58RP822I";

/// The seed used when none is given.
pub const DEFAULT_SEED: u64 = 42;

/// The region the mock answers as when none is given (the host label of `https://api.us.poly.ai`).
pub const DEFAULT_REGION: &str = "us";

/// An API key the mock accepts, with the region it was issued for and its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The value sent in `X-API-KEY`.
    pub key: String,
    /// Region the key was issued for; a key from another region answers 401.
    pub region: String,
    /// Agents the key may read; `None` means every agent. Other agents answer 403.
    pub agents: Option<Vec<String>>,
    /// Whether the caller may hear unredacted audio; without it audio is always redacted.
    pub pii_access: bool,
}

impl ApiKey {
    /// A key for `region` with access to every agent and to PII.
    pub fn new(key: impl Into<String>, region: impl Into<String>) -> Self {
        ApiKey {
            key: key.into(),
            region: region.into(),
            agents: None,
            pii_access: true,
        }
    }

    /// Restricts the key to the given agent ids.
    pub fn scoped_to<I, S>(mut self, agents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.agents = Some(agents.into_iter().map(Into::into).collect());
        self
    }

    /// Removes PII permission: audio is then always redacted.
    pub fn without_pii(mut self) -> Self {
        self.pii_access = false;
        self
    }

    /// Parses the CLI form `KEY[@REGION][:AGENT,AGENT...]`; the region defaults to `default_region`.
    pub fn parse(spec: &str, default_region: &str) -> Result<Self, String> {
        let (head, agents) = match spec.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (spec, None),
        };
        let (key, region) = match head.split_once('@') {
            Some((k, r)) => (k, r),
            None => (head, default_region),
        };
        if key.is_empty() || region.is_empty() {
            return Err(format!(
                "invalid key spec {spec:?}: expected KEY[@REGION][:AGENT,...]"
            ));
        }
        let mut k = ApiKey::new(key, region);
        if let Some(a) = agents {
            let list: Vec<&str> = a.split(',').filter(|s| !s.is_empty()).collect();
            if list.is_empty() {
                return Err(format!("invalid key spec {spec:?}: empty agent list"));
            }
            k = k.scoped_to(list);
        }
        Ok(k)
    }
}

/// WAV sample rate of generated recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleRate {
    /// 8 kHz narrow-band telephony (the default).
    #[default]
    Hz8000,
    /// 16 kHz wide-band.
    Hz16000,
}

impl SampleRate {
    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            SampleRate::Hz8000 => 8000,
            SampleRate::Hz16000 => 16000,
        }
    }
}

/// Everything [`crate::MockServer::start`] needs.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to bind; loopback by default. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// Seed of all generated data, ids and fault decisions.
    pub seed: u64,
    /// Number of agents (projects) to generate; the first is always [`SANDBOX_AGENT`].
    pub agents: usize,
    /// Explicit agent ids; when set they replace the generated ones (and `agents` is ignored).
    pub agent_ids: Option<Vec<String>>,
    /// Conversations per agent. Each is derived on demand, so millions cost no memory.
    pub conversations: u64,
    /// Ids for the first conversations of every agent, in place of generated ones: a hostile
    /// mode for testing clients against ids such as `..`, `a/b`, `CON` or 300 characters.
    pub conversation_ids: Option<Vec<String>>,
    /// The region this server answers as (`us`, `eu`, `uk`, `studio`, `dev`, `staging`).
    pub region: String,
    /// Accepted keys. [`MockConfig::default`] holds [`SANDBOX_KEY`] for the default region.
    pub keys: Vec<ApiKey>,
    /// Where notes and annotations persist across restarts; in memory only when `None`.
    pub state_file: Option<PathBuf>,
    /// Sample rate of generated audio.
    pub sample_rate: SampleRate,
    /// When set, every recording has exactly this many PCM data bytes (for large-download tests).
    pub audio_bytes_override: Option<u64>,
    /// Debug-chat sessions idle longer than this answer `CHAT_TIMEOUT`.
    pub chat_idle_timeout: Duration,
    /// Largest accepted request body in bytes; larger bodies answer 400.
    pub max_body_bytes: usize,
    /// Largest page the list endpoint returns; larger `limit`s are clamped.
    pub max_page: u64,
    /// Faults active from the start (they can be changed later through [`crate::Faults`]).
    pub faults: FaultConfig,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seed: DEFAULT_SEED,
            agents: 3,
            agent_ids: None,
            conversations: 200,
            conversation_ids: None,
            region: DEFAULT_REGION.to_string(),
            keys: vec![ApiKey::new(SANDBOX_KEY, DEFAULT_REGION)],
            state_file: None,
            sample_rate: SampleRate::Hz8000,
            audio_bytes_override: None,
            chat_idle_timeout: Duration::from_secs(15 * 60),
            max_body_bytes: 1 << 20,
            max_page: 1000,
            faults: FaultConfig::default(),
        }
    }
}

impl MockConfig {
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of conversations per agent.
    pub fn conversations(mut self, n: u64) -> Self {
        self.conversations = n;
        self
    }

    /// Sets the number of generated agents.
    pub fn agents(mut self, n: usize) -> Self {
        self.agents = n;
        self
    }

    /// Adds an accepted key.
    pub fn key(mut self, key: ApiKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Hostile mode: gives the first conversations of every agent these ids instead of
    /// generated ones.
    pub fn conversation_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.conversation_ids = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Makes the Data API and v3 listings disagree from the start (see
    /// [`crate::disagree`]; later changes go through [`crate::Faults::disagree`]).
    pub fn disagree(mut self, disagreement: crate::disagree::Disagreement) -> Self {
        self.faults.disagree = disagreement;
        self
    }

    /// Sets the state file.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_specs_parse() {
        assert_eq!(ApiKey::parse("k", "us"), Ok(ApiKey::new("k", "us")));
        assert_eq!(ApiKey::parse("k@eu", "us"), Ok(ApiKey::new("k", "eu")));
        assert_eq!(
            ApiKey::parse("k@uk:A,B", "us"),
            Ok(ApiKey::new("k", "uk").scoped_to(["A", "B"]))
        );
        assert_eq!(
            ApiKey::parse("k:A", "us"),
            Ok(ApiKey::new("k", "us").scoped_to(["A"]))
        );
        for bad in ["", "@eu", "k@", "k:", "k:,"] {
            assert!(ApiKey::parse(bad, "us").is_err(), "{bad}");
        }
    }
}
