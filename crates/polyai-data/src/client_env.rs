//! [`ClientEnv`]: the agent environments, and the one parser of their names.

use crate::error::Error;

/// An agent environment: what a debug chat talks to, and what a v3 listing filters by.
///
/// It parses ([`FromStr`](std::str::FromStr)) its names in any case — `sandbox`, `pre-release`
/// (also `prerelease`, `pre_release`) and `live` — and displays as its wire name; anything else is
/// an [`Error::InvalidRequest`] that lists the names, never a default.
///
/// ```
/// use polyai_data::ClientEnv;
/// assert_eq!("pre-release".parse::<ClientEnv>()?, ClientEnv::PreRelease);
/// assert_eq!("PRE_RELEASE".parse::<ClientEnv>()?, ClientEnv::PreRelease);
/// assert_eq!(ClientEnv::Live.to_string(), "live");
/// assert!("production".parse::<ClientEnv>().is_err());
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientEnv {
    /// The draft being edited.
    Sandbox,
    /// The pre-release deployment.
    PreRelease,
    /// The live deployment.
    Live,
}

impl ClientEnv {
    /// Every environment: sandbox, pre-release, live.
    ///
    /// ```
    /// use polyai_data::ClientEnv;
    /// let names: Vec<&str> = ClientEnv::ALL.iter().map(|env| env.as_str()).collect();
    /// assert_eq!(names, ["sandbox", "pre-release", "live"]);
    /// ```
    pub const ALL: [ClientEnv; 3] = [ClientEnv::Sandbox, ClientEnv::PreRelease, ClientEnv::Live];

    /// Wire value: `sandbox`, `pre-release` or `live`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientEnv::Sandbox => "sandbox",
            ClientEnv::PreRelease => "pre-release",
            ClientEnv::Live => "live",
        }
    }
}

impl std::fmt::Display for ClientEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ClientEnv {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Ok(ClientEnv::Sandbox),
            "pre-release" | "prerelease" | "pre_release" => Ok(ClientEnv::PreRelease),
            "live" => Ok(ClientEnv::Live),
            _ => Err(Error::InvalidRequest(format!(
                "unknown client environment `{s}`; valid: sandbox, pre-release, live"
            ))),
        }
    }
}
