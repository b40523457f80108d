//! Where a client's configuration comes from, by name: the environment variables
//! [`Client::from_env`](crate::Client::from_env) and the `polyai` CLI read, the user agent every
//! request carries, and the profiles of `config.toml` ([`ConfigFile`], [`Profile`]) that
//! [`ClientBuilder::profile`](crate::ClientBuilder::profile) applies.
//!
//! ```
//! use polyai_data::config::{ENV_API_KEY, ENV_BASE_URL, ENV_REGION};
//! assert_eq!([ENV_API_KEY, ENV_REGION, ENV_BASE_URL], ["POLYAI_API_KEY", "POLYAI_REGION", "POLYAI_BASE_URL"]);
//! ```

pub use crate::profile::{
    ConfigFile, DEFAULT_PROFILE, ENV_CONFIG, ENV_PROFILE, Profile, read_key_file, read_secret_file,
};

/// Environment variable holding the API key.
pub const ENV_API_KEY: &str = "POLYAI_API_KEY";
/// Environment variable holding the region name (`us`, `us-1`, `euw-1`, …).
pub const ENV_REGION: &str = "POLYAI_REGION";
/// Environment variable holding a custom base URL (overrides the region).
pub const ENV_BASE_URL: &str = "POLYAI_BASE_URL";

/// `polyai-rs/<version>`, the user agent every request carries.
///
/// ```
/// assert!(polyai_data::config::USER_AGENT.starts_with("polyai-rs/"));
/// ```
pub const USER_AGENT: &str = concat!("polyai-rs/", env!("CARGO_PKG_VERSION"));
