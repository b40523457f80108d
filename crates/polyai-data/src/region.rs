//! PolyAI regions and the hosts they map to.

use std::fmt;
use std::str::FromStr;

/// A PolyAI region. Each region has its own API host and its own Agent Studio; an API key only
/// works against the API host of the Agent Studio it was created in.
///
/// Parses the names PolyAI's tools use, case-insensitively: `us`/`us-1`, `eu`/`euw-1`,
/// `uk`/`uk-1`, `studio`, `dev`, `staging`. Displays as the API host.
///
/// ```
/// use polyai_data::Region;
///
/// let region: Region = "euw-1".parse()?;
/// assert_eq!(region, Region::Eu);
/// assert_eq!(region.to_string(), "api.eu.poly.ai");
/// assert_eq!(region.base_url(), "https://api.eu.poly.ai");
/// assert_eq!(region.studio_host(), "studio.eu.poly.ai");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Region {
    /// United States: `api.us.poly.ai`, keys from `studio.us.poly.ai`.
    #[default]
    Us,
    /// Europe: `api.eu.poly.ai`, keys from `studio.eu.poly.ai`.
    Eu,
    /// United Kingdom: `api.uk.poly.ai`, keys from `studio.uk.poly.ai`.
    Uk,
    /// Studio: `api.studio.poly.ai`, keys from `studio.poly.ai`.
    Studio,
    /// PolyAI development: `api.dev.poly.ai`.
    Dev,
    /// PolyAI staging: `api.staging.poly.ai`.
    Staging,
}

impl Region {
    /// Every region, in display order.
    pub const ALL: [Region; 6] = [
        Region::Us,
        Region::Eu,
        Region::Uk,
        Region::Studio,
        Region::Dev,
        Region::Staging,
    ];

    /// Short name, e.g. `us`.
    ///
    /// ```
    /// assert_eq!(polyai_data::Region::Uk.name(), "uk");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Uk => "uk",
            Region::Studio => "studio",
            Region::Dev => "dev",
            Region::Staging => "staging",
        }
    }

    /// API host, e.g. `api.us.poly.ai`.
    ///
    /// ```
    /// assert_eq!(polyai_data::Region::Studio.host(), "api.studio.poly.ai");
    /// ```
    pub fn host(self) -> &'static str {
        match self {
            Region::Us => "api.us.poly.ai",
            Region::Eu => "api.eu.poly.ai",
            Region::Uk => "api.uk.poly.ai",
            Region::Studio => "api.studio.poly.ai",
            Region::Dev => "api.dev.poly.ai",
            Region::Staging => "api.staging.poly.ai",
        }
    }

    /// Base URL, e.g. `https://api.us.poly.ai` (no trailing slash).
    ///
    /// ```
    /// assert_eq!(polyai_data::Region::Us.base_url(), "https://api.us.poly.ai");
    /// ```
    pub fn base_url(self) -> String {
        format!("https://{}", self.host())
    }

    /// The Agent Studio host whose API keys work in this region, e.g. `studio.us.poly.ai`.
    ///
    /// ```
    /// assert_eq!(polyai_data::Region::Studio.studio_host(), "studio.poly.ai");
    /// ```
    pub fn studio_host(self) -> &'static str {
        match self {
            Region::Us => "studio.us.poly.ai",
            Region::Eu => "studio.eu.poly.ai",
            Region::Uk => "studio.uk.poly.ai",
            Region::Studio => "studio.poly.ai",
            Region::Dev => "studio.dev.poly.ai",
            Region::Staging => "studio.staging.poly.ai",
        }
    }

    /// The host of the Conversations API v3 in this region, e.g. `api.us-1.platform.polyai.app`;
    /// `None` for the regions PolyAI serves no v3 in (studio, dev, staging).
    ///
    /// ```
    /// use polyai_data::Region;
    /// assert_eq!(Region::Eu.platform_host(), Some("api.euw-1.platform.polyai.app"));
    /// assert_eq!(Region::Studio.platform_host(), None);
    /// ```
    pub fn platform_host(self) -> Option<&'static str> {
        match self {
            Region::Us => Some("api.us-1.platform.polyai.app"),
            Region::Eu => Some("api.euw-1.platform.polyai.app"),
            Region::Uk => Some("api.uk-1.platform.polyai.app"),
            Region::Studio | Region::Dev | Region::Staging => None,
        }
    }

    /// Base URL of the Conversations API v3 in this region, e.g.
    /// `https://api.uk-1.platform.polyai.app`, or a configuration error naming the regions that
    /// have one.
    ///
    /// ```
    /// use polyai_data::Region;
    /// assert_eq!(Region::Uk.v3_base_url()?, "https://api.uk-1.platform.polyai.app");
    /// let err = Region::Studio.v3_base_url().unwrap_err().to_string();
    /// assert!(err.contains("no Conversations API v3 host") && err.contains("us (us-1)"));
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn v3_base_url(self) -> Result<String, crate::Error> {
        self.platform_host()
            .map(|host| format!("https://{host}"))
            .ok_or_else(|| {
                crate::Error::Config(format!(
                    "region {} has no Conversations API v3 host: PolyAI serves v3 in us (us-1), eu (euw-1) and uk (uk-1); \
                     pick one of those, or set a v3 base URL on the client builder",
                    self.name()
                ))
            })
    }

    /// The region whose API host (Data API or v3) is `host`, if any.
    ///
    /// ```
    /// use polyai_data::Region;
    /// assert_eq!(Region::from_host("api.uk.poly.ai"), Some(Region::Uk));
    /// assert_eq!(Region::from_host("api.euw-1.platform.polyai.app"), Some(Region::Eu));
    /// assert_eq!(Region::from_host("127.0.0.1"), None);
    /// ```
    pub fn from_host(host: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| {
            r.host().eq_ignore_ascii_case(host)
                || r.platform_host()
                    .is_some_and(|p| p.eq_ignore_ascii_case(host))
        })
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.host())
    }
}

impl FromStr for Region {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let region = match s.trim().to_ascii_lowercase().as_str() {
            "us" | "us-1" => Region::Us,
            "eu" | "euw-1" => Region::Eu,
            "uk" | "uk-1" => Region::Uk,
            "studio" => Region::Studio,
            "dev" => Region::Dev,
            "staging" => Region::Staging,
            _ => {
                return Err(crate::Error::Config(format!(
                    "unknown region `{s}`; valid regions: us (us-1), eu (euw-1), uk (uk-1), studio, dev, staging"
                )));
            }
        };
        Ok(region)
    }
}

/// The sentence a 401 error ends with: which Agent Studio the key must come from.
pub(crate) fn key_hint(host: &str) -> String {
    match Region::from_host(host) {
        Some(region) => format!(
            "the API key must be created in the matching Agent Studio ({} for {}); keys from another region's Studio are rejected",
            region.studio_host(),
            host
        ),
        None => format!(
            "check the API key: keys only work against the API host of the Agent Studio they were created in \
             (studio.poly.ai ↔ api.studio.poly.ai, studio.us.poly.ai ↔ api.us.poly.ai, …); this request went to {host}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_alias_case_insensitively() {
        for (name, region) in [
            ("us", Region::Us),
            ("US-1", Region::Us),
            ("eu", Region::Eu),
            ("EuW-1", Region::Eu),
            ("uk", Region::Uk),
            ("uk-1", Region::Uk),
            ("Studio", Region::Studio),
            ("dev", Region::Dev),
            (" staging ", Region::Staging),
        ] {
            assert_eq!(name.parse::<Region>().ok(), Some(region), "{name}");
        }
    }

    #[test]
    fn unknown_region_lists_valid_names() {
        let err = "mars".parse::<Region>().err().map(|e| e.to_string());
        let text = err.unwrap_or_default();
        assert!(text.contains("`mars`") && text.contains("euw-1") && text.contains("staging"));
    }

    #[test]
    fn display_is_host_and_roundtrips_through_from_host() {
        for region in Region::ALL {
            assert_eq!(region.to_string(), region.host());
            assert_eq!(Region::from_host(region.host()), Some(region));
            assert_eq!(region.name().parse::<Region>().ok(), Some(region));
        }
    }

    #[test]
    fn key_hint_names_matching_studio() {
        assert!(key_hint("api.studio.poly.ai").contains("studio.poly.ai for api.studio.poly.ai"));
        assert!(key_hint("127.0.0.1:8080").contains("this request went to 127.0.0.1:8080"));
    }
}
