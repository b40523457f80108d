//! [`ClientBuilder`]: keys, regions and base URLs, timeouts, limits, retries, hooks, and the
//! base URL rules.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderValue;

use crate::auth::ApiKey;
use crate::client::Client;
use crate::config::{ENV_API_KEY, ENV_BASE_URL, ENV_REGION, USER_AGENT};
use crate::error::Error;
use crate::region::Region;
use crate::retry::{RetryPolicy, SleepFuture, Sleeper};
use crate::transport::Inner;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 5;
/// Far above any real JSON answer (a page of 1000 detailed conversations is a few MiB).
const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// An 8 kHz 16-bit recording streams at 16 000 bytes/s; 1 KiB/s is a link that is all but dead.
const DEFAULT_MIN_DOWNLOAD_RATE: u64 = 1024;
const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(30);

/// Builds a [`Client`].
///
/// Defaults: region `us`, connect timeout 10 s, per-attempt timeout 30 s (whole request
/// including the body, for JSON calls), JSON bodies up to 64 MiB, audio downloads that keep
/// at least 1 KiB/s over every 30 s with no more than 30 s between chunks (and no total
/// timeout), retries on ([`RetryPolicy::default`]).
///
/// ```no_run
/// use std::time::Duration;
/// use polyai_data::{Client, Region};
///
/// let client = Client::builder()
///     .api_key(std::env::var("POLYAI_API_KEY")?)
///     .region(Region::Eu)
///     .timeout(Duration::from_secs(20))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Point it at a local server for tests (`http://` is accepted for loopback hosts only):
///
/// ```
/// let client = polyai_data::Client::builder()
///     .api_key("test-key")
///     .base_url("http://127.0.0.1:8080/")
///     .build()?;
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    /// Why the profile's key file could not be used; dropped when a key is set after it.
    key_error: Option<String>,
    region: Option<Region>,
    base_url: Option<String>,
    v3_base_url: Option<String>,
    env_error: Option<String>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_response_bytes: Option<u64>,
    min_download_rate: Option<(u64, Duration)>,
    download_timeout: Option<Duration>,
    app_name: Option<String>,
    http_client: Option<reqwest::Client>,
    retry: Option<RetryPolicy>,
    sleeper: Option<Sleeper>,
    hooks: crate::hook::Hooks,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .field("v3_base_url", &self.v3_base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("min_download_rate", &self.min_download_rate)
            .field("download_timeout", &self.download_timeout)
            .field("app_name", &self.app_name)
            .field("custom_http_client", &self.http_client.is_some())
            .field("retry", &self.retry)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        ClientBuilder::default()
    }

    /// Reads `POLYAI_API_KEY`, `POLYAI_REGION` and `POLYAI_BASE_URL`; values already set on the
    /// builder are replaced by variables that are present. A bad region is reported by
    /// [`build`](Self::build).
    ///
    /// ```no_run
    /// let client = polyai_data::Client::builder()
    ///     .from_env()
    ///     .timeout(std::time::Duration::from_secs(60))
    ///     .build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_env(mut self) -> Self {
        if let Some(key) = env_var(ENV_API_KEY) {
            self.api_key = Some(ApiKey::new(key));
            self.key_error = None;
        }
        if let Some(region) = env_var(ENV_REGION) {
            match region.parse::<Region>() {
                Ok(region) => self.region = Some(region),
                Err(err) => self.env_error = Some(format!("{ENV_REGION}: {err}")),
            }
        }
        if let Some(url) = env_var(ENV_BASE_URL) {
            self.base_url = Some(url);
        }
        self
    }

    /// Applies a [`Profile`](crate::config::Profile): its region, base URL and the key from its key file
    /// replace what the builder holds (a profile without them leaves the builder as it is). A key
    /// file that cannot be used is reported by [`build`](Self::build). Call it before
    /// [`from_env`](Self::from_env) and the setters, which then take precedence, as flags and
    /// environment variables do over a profile in the CLI.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("config.toml");
    /// # std::fs::write(&path, "[profiles.local]\nbase_url = \"http://127.0.0.1:9\"\n")?;
    /// let config = polyai_data::config::ConfigFile::load(&path)?;
    /// let client = polyai_data::Client::builder()
    ///     .profile(config.profile("local")?)
    ///     .api_key("test-key")
    ///     .build()?;
    /// assert_eq!(client.base_url(), "http://127.0.0.1:9");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn profile(mut self, profile: &crate::config::Profile) -> Self {
        if let Some(region) = profile.region() {
            self.region = Some(region);
        }
        if let Some(url) = profile.base_url() {
            self.base_url = Some(url.to_owned());
        }
        match profile.api_key() {
            Ok(Some(key)) => {
                self.api_key = Some(key);
                self.key_error = None;
            }
            Ok(None) => {}
            Err(err) => self.key_error = Some(err.to_string()),
        }
        self
    }

    /// A builder from the config file and the environment, as the `polyai` CLI configures
    /// itself: the profile `name` (or `POLYAI_PROFILE`, or `default` when the file defines it)
    /// from [`ConfigFile::load_default`](crate::config::ConfigFile::load_default), then
    /// [`from_env`](Self::from_env) over it. A missing profile or a broken file is reported by
    /// [`build`](Self::build). The profile's agent and account are the caller's to use: see
    /// [`ConfigFile::select`](crate::config::ConfigFile::select).
    ///
    /// ```no_run
    /// let client = polyai_data::ClientBuilder::from_profile(Some("staging")).build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_profile(name: Option<&str>) -> Self {
        let named = name
            .map(str::to_owned)
            .or_else(|| env_var(crate::profile::ENV_PROFILE));
        let selected = crate::config::ConfigFile::load_default().and_then(|config| {
            config
                .select(named.as_deref())
                .map(|profile| profile.cloned())
        });
        let builder = match selected {
            Ok(Some(profile)) => ClientBuilder::new().profile(&profile),
            Ok(None) => ClientBuilder::new(),
            Err(err) => ClientBuilder {
                env_error: Some(err.to_string()),
                ..ClientBuilder::new()
            },
        };
        let error = builder.env_error.clone();
        let mut builder = builder.from_env();
        // A region from the environment beats the profile's base URL, as a whole endpoint.
        if env_var(ENV_REGION).is_some() && env_var(ENV_BASE_URL).is_none() {
            builder.base_url = None;
        }
        if error.is_some() {
            builder.env_error = error;
        }
        builder
    }

    /// The API key (from Agent Studio of the same region).
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self.key_error = None;
        self
    }

    /// The region; ignored when [`base_url`](Self::base_url) is set.
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
        self
    }

    /// A custom base URL (a proxy, a local mock server). A trailing `/` is dropped; a path
    /// prefix is kept. `http://` is only accepted for loopback hosts (`127.0.0.0/8`, `::1`,
    /// `localhost`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A base URL for the Conversations API v3 alone (a proxy, a mock). Without it, v3 goes to
    /// the region's platform host (`https://api.us-1.platform.polyai.app` for `us`), or to
    /// [`base_url`](Self::base_url) when that is set. Same rules as `base_url`.
    ///
    /// ```
    /// let client = polyai_data::Client::builder()
    ///     .api_key("k")
    ///     .v3_base_url("http://127.0.0.1:9000")
    ///     .build()?;
    /// assert_eq!(client.base_url(), "https://api.us.poly.ai");
    /// assert_eq!(client.v3_base_url(), Some("http://127.0.0.1:9000"));
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn v3_base_url(mut self, url: impl Into<String>) -> Self {
        self.v3_base_url = Some(url.into());
        self
    }

    /// Timeout for establishing a connection (ignored with a custom HTTP client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Timeout of one attempt of a JSON call, response body included. For audio downloads it
    /// bounds the wait for the response headers only.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Longest silence between two chunks of an audio download.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Largest success body of a JSON call (listing, conversation, chat reply) read into
    /// memory; a larger one fails with [`Error::ResponseTooLarge`] as soon as it is announced or
    /// received, and is not retried. Default 64 MiB, far above any real answer; it stops a
    /// broken or hostile server from filling memory with an endless body. Audio downloads
    /// stream to disk and are bounded by [`min_download_rate`](Self::min_download_rate) and
    /// [`download_timeout`](Self::download_timeout) instead.
    ///
    /// ```
    /// let client = polyai_data::Client::builder()
    ///     .api_key("key")
    ///     .max_response_bytes(256 * 1024 * 1024)
    ///     .build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = Some(bytes);
        self
    }

    /// Slowest audio download accepted: every `window` of a download must bring at least
    /// `bytes_per_second × window` bytes, or it fails with a timeout error. Default 1024 bytes/s
    /// over 30 s, so a server that trickles a byte now and then cannot hold a download open
    /// forever (the idle timeout alone would not stop it). `0` turns the check off.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = polyai_data::Client::builder()
    ///     .api_key("key")
    ///     .min_download_rate(4096, Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn min_download_rate(mut self, bytes_per_second: u64, window: Duration) -> Self {
        self.min_download_rate = Some((bytes_per_second, window));
        self
    }

    /// Longest an audio download's body may take in total, however steadily it arrives
    /// (default: no limit).
    ///
    /// ```
    /// let client = polyai_data::Client::builder()
    ///     .api_key("key")
    ///     .download_timeout(std::time::Duration::from_secs(600))
    ///     .build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn download_timeout(mut self, timeout: Duration) -> Self {
        self.download_timeout = Some(timeout);
        self
    }

    /// Prepends `name` (e.g. `my-tool/1.2`) to the `polyai-rs/<version>` user agent.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// Retry policy for every call (each call can override it).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// **Escape hatch to reqwest**: brings your own `reqwest::Client` (proxy, custom CA, pool
    /// settings, instrumentation). This method and
    /// [`same_host_redirect_policy`](Self::same_host_redirect_policy) are the only places this
    /// crate's API takes or gives a type of `reqwest` (0.13, which the generated client is built
    /// on); the rest of the API keeps it private, so a reqwest upgrade only concerns callers of
    /// these two.
    ///
    /// The key is still added to each request by this crate, but the rest is yours:
    /// - enable a TLS backend on your `reqwest` dependency (this crate's `rustls`/`native-tls`
    ///   features only configure clients it builds), or `https` fails at run time;
    /// - set a redirect policy that does not follow redirects to other hosts, e.g.
    ///   [`same_host_redirect_policy`](Self::same_host_redirect_policy) or
    ///   `reqwest::redirect::Policy::none()` — reqwest's default policy would send the
    ///   `X-API-KEY` header to whatever host a redirect names;
    /// - the connect timeout set here is not applied (the per-attempt and idle timeouts, the
    ///   user agent and the key are);
    /// - like any `reqwest::Client`, it picks proxies from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`
    ///   unless you built it with `no_proxy()` — also for a loopback `http://` base URL, where the
    ///   key would then cross the proxy unencrypted (clients built here never use a proxy for a
    ///   loopback base URL).
    ///
    /// ```no_run
    /// use polyai_data::ClientBuilder;
    ///
    /// let http = reqwest::Client::builder()
    ///     .redirect(ClientBuilder::same_host_redirect_policy())
    ///     .build()?;
    /// let client = polyai_data::Client::builder()
    ///     .api_key("key")
    ///     .reqwest_client(http)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reqwest_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Part of the [reqwest escape hatch](Self::reqwest_client): a redirect policy that follows at
    /// most 5 redirects and only to the same scheme, host and port, so the `X-API-KEY` header
    /// never reaches another host. Clients built by this crate use it; pass it to your own
    /// `reqwest::ClientBuilder` when you bring your own client.
    ///
    /// ```
    /// let http = reqwest::Client::builder()
    ///     .redirect(polyai_data::ClientBuilder::same_host_redirect_policy());
    /// # let _ = http;
    /// ```
    pub fn same_host_redirect_policy() -> reqwest::redirect::Policy {
        reqwest::redirect::Policy::custom(|attempt| {
            let same_origin = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if !same_origin || attempt.previous().len() > MAX_REDIRECTS {
                attempt.stop()
            } else {
                attempt.follow()
            }
        })
    }

    /// Replaces the function that waits between retries (default: `tokio::time::sleep`).
    /// Useful in tests to make retries instantaneous or to record the chosen delays.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let delays = Arc::new(Mutex::new(Vec::new()));
    /// let seen = delays.clone();
    /// let builder = polyai_data::Client::builder().sleeper(move |d| {
    ///     seen.lock().unwrap().push(d);
    ///     Box::pin(async {})
    /// });
    /// # let _ = builder;
    /// ```
    pub fn sleeper<F>(mut self, sleeper: F) -> Self
    where
        F: Fn(Duration) -> SleepFuture + Send + Sync + 'static,
    {
        self.sleeper = Some(Arc::new(sleeper));
        self
    }

    /// Adds a [`Hook`](crate::hook::Hook) that runs before and after every attempt of every call
    /// (retries, audio downloads and v3 calls included), to add headers or observe requests and
    /// responses. Hooks run in the order they were added; see [`Hook`](crate::hook::Hook) for what they
    /// may not do.
    ///
    /// ```
    /// use polyai_data::hook::{Hook, RequestParts, ResponseInfo};
    ///
    /// struct Tag;
    /// impl Hook for Tag {
    ///     fn on_request(&self, request: &mut RequestParts<'_>) {
    ///         let _ = request.insert_header("x-pipeline", "nightly-export");
    ///     }
    /// }
    ///
    /// struct Log;
    /// impl Hook for Log {
    ///     fn on_response(&self, r: &ResponseInfo<'_>) {
    ///         eprintln!("{} {} → {} in {:?}", r.method(), r.path(), r.outcome(), r.duration());
    ///     }
    /// }
    ///
    /// let client = polyai_data::Client::builder().api_key("key").hook(Tag).hook(Log).build()?;
    /// # let _ = client;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn hook(mut self, hook: impl crate::hook::Hook + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// Validates the configuration and builds the client.
    ///
    /// Fails when the key is missing or blank, the region from the environment is unknown, or
    /// the base URL is invalid or plain `http://` to a non-loopback host.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(err) = self.env_error.or(self.key_error) {
            return Err(Error::Config(err));
        }
        let key = self.api_key.ok_or_else(|| {
            Error::Config(format!(
                "no API key: call `.api_key(..)` or set {ENV_API_KEY} (create one in Agent Studio → API Keys)"
            ))
        })?;
        if key.is_blank() {
            return Err(Error::Config("the API key is empty".into()));
        }
        let key_header = key.header_value()?;
        let region = self.region.unwrap_or_default();
        let base = match &self.base_url {
            Some(url) => parse_base_url(url)?,
            None => parse_base_url(&region.base_url())?,
        };
        let host = host_label(&base);
        let v3_base = match (&self.v3_base_url, &self.base_url) {
            (Some(url), _) => Ok(parse_base_url(url)?),
            (None, Some(_)) => Ok(base.clone()),
            (None, None) => match region.v3_base_url() {
                Ok(url) => Ok(parse_base_url(&url)?),
                Err(e) => Err(e.to_string()),
            },
        };
        let user_agent = match &self.app_name {
            Some(app) => format!("{app} {USER_AGENT}"),
            None => USER_AGENT.to_owned(),
        };
        let http = match self.http_client {
            Some(client) => client,
            None => {
                install_tls_provider();
                let mut http = reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                    .redirect(ClientBuilder::same_host_redirect_policy());
                if is_loopback(&base) {
                    // A proxy is another host: plain http:// to it would carry the key in
                    // clear text, and it cannot reach this machine's loopback anyway.
                    http = http.no_proxy();
                }
                http.build()
                    .map_err(|e| Error::Config(format!("could not build the HTTP client: {e}")))?
            }
        };
        let retry = self.retry.unwrap_or_default();
        Ok(Client::from_inner(Inner {
            http,
            base,
            host,
            v3_base,
            key_header,
            user_agent: HeaderValue::from_str(&user_agent).map_err(|_| {
                Error::Config(format!("invalid app name in user agent `{user_agent}`"))
            })?,
            budget: crate::retry::RetryBudget::new(retry.get_retry_budget()),
            retry,
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            idle_timeout: self.idle_timeout.unwrap_or(DEFAULT_IDLE_TIMEOUT),
            max_response_bytes: self
                .max_response_bytes
                .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
            min_download_rate: self
                .min_download_rate
                .unwrap_or((DEFAULT_MIN_DOWNLOAD_RATE, DEFAULT_RATE_WINDOW)),
            download_timeout: self.download_timeout,
            sleeper: self.sleeper.unwrap_or_else(crate::retry::tokio_sleeper),
            hooks: self.hooks,
        }))
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Parses and checks a base URL; strips trailing slashes, query and fragment.
pub(crate) fn parse_base_url(raw: &str) -> Result<Url, Error> {
    let mut url = Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("invalid base URL `{raw}`: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "refusing plain http:// to `{}`: the API key would travel unencrypted; use https:// \
                 (http:// is only allowed for loopback hosts such as 127.0.0.1 or localhost)",
                url.host_str().unwrap_or_default()
            )));
        }
        other => {
            return Err(Error::Config(format!(
                "invalid base URL `{raw}`: scheme `{other}` is not http(s)"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!("invalid base URL `{raw}`: no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "invalid base URL: credentials in the URL are not supported".into(),
        ));
    }
    url.set_query(None);
    url.set_fragment(None);
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `host[:port]` for messages.
pub(crate) fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// With the `rustls-ring` feature, makes ring the process's rustls crypto provider unless the
/// application installed one (reqwest without its aws-lc provider panics otherwise).
pub(crate) fn install_tls_provider() {
    #[cfg(feature = "rustls-ring")]
    {
        // An error means a provider is installed already: that one is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(raw: &str) -> Result<String, String> {
        parse_base_url(raw)
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn base_url_rules() {
        assert_eq!(
            base("https://api.us.poly.ai/"),
            Ok("https://api.us.poly.ai".into())
        );
        assert_eq!(
            base("https://proxy.example/polyai//"),
            Ok("https://proxy.example/polyai".into())
        );
        assert_eq!(
            base("http://127.0.0.1:9000/"),
            Ok("http://127.0.0.1:9000".into())
        );
        assert_eq!(base("http://127.1.2.3"), Ok("http://127.1.2.3".into()));
        assert_eq!(base("http://LOCALHOST:1"), Ok("http://localhost:1".into()));
        assert_eq!(base("http://[::1]:8080"), Ok("http://[::1]:8080".into()));
        assert!(base("http://api.us.poly.ai").is_err_and(|e| e.contains("refusing plain http")));
        assert!(base("http://10.0.0.1").is_err());
        assert!(base("ftp://x").is_err());
        assert!(base("not a url").is_err());
        assert!(base("https://user:pw@host").is_err_and(|e| !e.contains("pw")));
    }

    #[test]
    fn build_requires_a_key_and_redacts_it() {
        let err = ClientBuilder::new().build().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(ENV_API_KEY)));
        let builder = ClientBuilder::new().api_key("top-secret");
        assert!(!format!("{builder:?}").contains("top-secret"));
        let client = builder.build();
        assert!(client.is_ok_and(|c| !format!("{c:?}").contains("top-secret")));
    }

    #[test]
    fn region_sets_base_url() {
        let client = ClientBuilder::new().api_key("k").region(Region::Uk).build();
        assert_eq!(
            client.ok().map(|c| c.base_url().to_owned()),
            Some("https://api.uk.poly.ai".into())
        );
    }
}
