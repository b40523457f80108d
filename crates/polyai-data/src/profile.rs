//! Named profiles in `config.toml`: region or base URL, agent, account and the file holding the
//! key, as aws, gh and oxide keep them.
//!
//! The file is `$POLYAI_CONFIG`, else `$XDG_CONFIG_HOME/polyai/config.toml`, else
//! `~/.config/polyai/config.toml`:
//!
//! ```toml
//! [profiles.default]
//! region = "eu"
//! agent = "PROJECT-58RP822I"
//! api_key_file = "~/.config/polyai/eu.key"
//!
//! [profiles.staging]
//! base_url = "https://polyai-proxy.internal.example"
//! agent = "PROJECT-STAGING1"
//! account = "ws-fd112d8f"
//! api_key_file = "staging.key"   # relative to the config file's folder
//! ```
//!
//! Unknown keys are errors (a misspelt `regoin` must not be ignored silently). The key never sits
//! in the file itself: `api_key_file` names a file holding only the key, which must not be
//! readable or writable by other users (like ssh, a key file with mode `0644` is refused; run
//! `chmod 600 FILE`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::auth::ApiKey;
use crate::error::Error;
use crate::region::Region;

/// Environment variable naming the config file (instead of `$XDG_CONFIG_HOME/polyai/config.toml`).
pub const ENV_CONFIG: &str = "POLYAI_CONFIG";
/// Environment variable naming the profile to use.
pub const ENV_PROFILE: &str = "POLYAI_PROFILE";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// The config file: every profile it defines.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.toml");
/// std::fs::write(&path, "[profiles.default]\nregion = \"eu\"\nagent = \"PROJECT-1\"\n")?;
/// let config = polyai_data::config::ConfigFile::load(&path)?;
/// let profile = config.select(None)?.expect("the default profile");
/// assert_eq!(profile.agent(), Some("PROJECT-1"));
/// assert_eq!(profile.region(), Some(polyai_data::Region::Eu));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    exists: bool,
    profiles: BTreeMap<String, Profile>,
    /// Profiles whose table has a mistake (an unknown key, a bad region), with the message:
    /// an error only when that profile is used, so one typo does not break every command.
    broken: BTreeMap<String, String>,
}

/// One `[profiles.NAME]` table. Holds the key file's path, never the key.
#[derive(Debug, Clone)]
pub struct Profile {
    name: String,
    region: Option<Region>,
    base_url: Option<String>,
    agent: Option<String>,
    account: Option<String>,
    api_key_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    profiles: BTreeMap<String, toml::Value>,
}

/// The file read strictly, only for the line of a mistake.
#[derive(Deserialize)]
#[allow(dead_code)]
struct StrictFile {
    #[serde(default)]
    profiles: BTreeMap<String, RawProfile>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    region: Option<String>,
    base_url: Option<String>,
    agent: Option<String>,
    account: Option<String>,
    api_key_file: Option<PathBuf>,
}

impl ConfigFile {
    /// Where the config file is, from the environment `var` answers: `POLYAI_CONFIG`, else
    /// `$XDG_CONFIG_HOME/polyai/config.toml`, else `$HOME/.config/polyai/config.toml`; `None`
    /// when none of them is set. Empty variables count as unset.
    ///
    /// ```
    /// use std::path::PathBuf;
    /// let path = polyai_data::config::ConfigFile::path_from(|name| {
    ///     (name == "HOME").then(|| "/home/ada".into())
    /// });
    /// assert_eq!(path, Some(PathBuf::from("/home/ada/.config/polyai/config.toml")));
    /// ```
    pub fn path_from(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
        let var = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        var(ENV_CONFIG)
            .or_else(|| var("XDG_CONFIG_HOME").map(|dir| dir.join("polyai/config.toml")))
            .or_else(|| var("HOME").map(|home| home.join(".config/polyai/config.toml")))
    }

    /// [`path_from`](Self::path_from) the process's environment.
    pub fn default_path() -> Option<PathBuf> {
        Self::path_from(|name| std::env::var_os(name))
    }

    /// Reads the config file at `path`. A file that does not exist holds no profiles; one that
    /// cannot be read, is not valid TOML, or has an unknown key or a bad region is an error
    /// naming the file and the line.
    pub fn load(path: impl Into<PathBuf>) -> Result<ConfigFile, Error> {
        let path = path.into();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ConfigFile {
                    path,
                    exists: false,
                    profiles: BTreeMap::new(),
                    broken: BTreeMap::new(),
                });
            }
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read the config file {}: {e}",
                    path.display()
                )));
            }
        };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            Error::Config(format!(
                "{}: {} (profiles are [profiles.NAME] tables with region, base_url, agent, \
                 account and api_key_file)",
                path.display(),
                e.to_string().trim_end()
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut profiles = BTreeMap::new();
        let mut broken = BTreeMap::new();
        // The strict reading's error names the line; it is used for a profile when only one is
        // wrong (it stops at the first mistake).
        let strict = toml::from_str::<StrictFile>(&text).err();
        let wrong = raw
            .profiles
            .values()
            .filter(|v| RawProfile::deserialize((*v).clone()).is_err())
            .count();
        for (name, value) in raw.profiles {
            let raw = match RawProfile::deserialize(value) {
                Ok(raw) => raw,
                Err(e) => {
                    let why = match &strict {
                        Some(strict) if wrong == 1 => strict.to_string(),
                        _ => e.to_string(),
                    };
                    let message = format!(
                        "{}: [profiles.{name}]: {} (a profile takes region, base_url, agent, \
                         account and api_key_file)",
                        path.display(),
                        why.trim_end()
                    );
                    broken.insert(name, message);
                    continue;
                }
            };
            let region = match raw.region.as_deref().map(str::parse::<Region>) {
                None => None,
                Some(Ok(region)) => Some(region),
                Some(Err(e)) => {
                    let message = format!("{}: [profiles.{name}] region: {e}", path.display());
                    broken.insert(name, message);
                    continue;
                }
            };
            let api_key_file = raw.api_key_file.map(|file| resolve(dir, &file));
            let profile = Profile {
                name: name.clone(),
                region,
                base_url: raw.base_url,
                agent: raw.agent,
                account: raw.account,
                api_key_file,
            };
            profiles.insert(name, profile);
        }
        Ok(ConfigFile {
            path,
            exists: true,
            profiles,
            broken,
        })
    }

    /// Reads the config file at [`default_path`](Self::default_path) (no profiles when no
    /// location is known). `POLYAI_CONFIG` naming a file that does not exist is an error.
    pub fn load_default() -> Result<ConfigFile, Error> {
        let Some(path) = Self::default_path() else {
            return Ok(ConfigFile {
                path: PathBuf::new(),
                exists: false,
                profiles: BTreeMap::new(),
                broken: BTreeMap::new(),
            });
        };
        let config = Self::load(&path)?;
        if !config.exists && std::env::var_os(ENV_CONFIG).is_some_and(|v| !v.is_empty()) {
            return Err(Error::Config(format!(
                "{ENV_CONFIG} names {}, which does not exist: create it or unset {ENV_CONFIG}",
                path.display()
            )));
        }
        Ok(config)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists.
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// Every profile, by name.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// The profiles whose table has a mistake, by name, with the message that names the file
    /// and the mistake; [`profile`](Self::profile) fails with it for such a profile.
    pub fn broken(&self) -> impl Iterator<Item = (&str, &str)> {
        self.broken.iter().map(|(n, m)| (n.as_str(), m.as_str()))
    }

    /// The profile `name`; an error listing the defined ones when there is none, or naming
    /// the mistake when its table has one.
    pub fn profile(&self, name: &str) -> Result<&Profile, Error> {
        if let Some(message) = self.broken.get(name) {
            return Err(Error::Config(message.clone()));
        }
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Error::Config(if !self.exists {
                format!(
                    "no profile `{name}`: the config file {} does not exist; create it with a \
                     [profiles.{name}] table",
                    self.path.display()
                )
            } else if known.is_empty() {
                format!(
                    "no profile `{name}` in {}, which defines none: add a [profiles.{name}] table",
                    self.path.display()
                )
            } else {
                format!(
                    "no profile `{name}` in {} (it defines {}): add a [profiles.{name}] table or \
                     pick one of those",
                    self.path.display(),
                    known.join(", ")
                )
            })
        })
    }

    /// The profile to use: `name` when given (it must exist), else `default` when the file
    /// defines it, else none.
    pub fn select(&self, name: Option<&str>) -> Result<Option<&Profile>, Error> {
        match name {
            Some(name) => self.profile(name).map(Some),
            None if self.broken.contains_key(DEFAULT_PROFILE) => {
                self.profile(DEFAULT_PROFILE).map(Some)
            }
            None => Ok(self.profiles.get(DEFAULT_PROFILE)),
        }
    }
}

/// `~/x` under `$HOME`, a relative path under the config file's folder.
fn resolve(dir: &Path, file: &Path) -> PathBuf {
    if let Ok(rest) = file.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty())
    {
        return PathBuf::from(home).join(rest);
    }
    dir.join(file)
}

impl Profile {
    /// The table's name (`default` for `[profiles.default]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `region`, parsed.
    pub fn region(&self) -> Option<Region> {
        self.region
    }

    /// `base_url`.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// `agent`: the Agent Studio project id, for [`Client::agent`](crate::Client::agent).
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }

    /// `account`: the Agent Studio workspace id, for
    /// [`Client::workspace`](crate::Client::workspace).
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// `api_key_file`, with `~` expanded and a relative path taken from the config file's folder.
    pub fn api_key_file(&self) -> Option<&Path> {
        self.api_key_file.as_deref()
    }

    /// The key from `api_key_file` (see [`read_key_file`]); `None` when the profile names no
    /// key file.
    pub fn api_key(&self) -> Result<Option<ApiKey>, Error> {
        self.api_key_file.as_deref().map(read_key_file).transpose()
    }
}

/// Reads an API key file: the whole file, trimmed. Fails, naming the file and what to do, when
/// it cannot be read, is empty, or (on Unix) other users may read or write it (like ssh with a
/// private key: run `chmod 600 FILE`).
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("key");
/// std::fs::write(&path, "sk-123\n")?;
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
/// assert!(polyai_data::config::read_key_file(&path).unwrap_err().to_string().contains("chmod 600"));
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// # }
/// assert!(polyai_data::config::read_key_file(&path).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_key_file(path: &Path) -> Result<ApiKey, Error> {
    let text = read_secret_file(
        path,
        "API key file",
        "check the path (api_key_file in the profile)",
        "put the key from Agent Studio → API Keys in it",
    )?;
    Ok(ApiKey::new(text.expose_secret().trim()))
}

/// Reads a file holding a secret (an API key, a signing key) by the rule of [`read_key_file`]:
/// it must be readable, not empty (blank), and on Unix open to no other user (mode `0600` or
/// stricter; run `chmod 600 FILE`). `what` names the file in errors (`"signing key file"`),
/// `check` says what to check when it cannot be read, `fill` what to put in it when empty.
/// The text is returned whole, as a secret; errors never hold it.
///
/// ```
/// use secrecy::ExposeSecret;
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("secret.key");
/// std::fs::write(&path, "line 1\nline 2\n")?;
/// # #[cfg(unix)] {
/// use std::os::unix::fs::PermissionsExt;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
/// let refused = polyai_data::config::read_secret_file(&path, "signing key file", "check --sign", "make one");
/// assert!(refused.unwrap_err().to_string().contains("the signing key file"));
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
/// # }
/// let text = polyai_data::config::read_secret_file(&path, "signing key file", "check --sign", "make one")?;
/// assert_eq!(text.expose_secret(), "line 1\nline 2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_secret_file(
    path: &Path,
    what: &str,
    check: &str,
    fill: &str,
) -> Result<secrecy::SecretString, Error> {
    let shown = path.display();
    let metadata = std::fs::metadata(path)
        .map_err(|e| Error::Config(format!("cannot read the {what} {shown}: {e}; {check}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if metadata.is_file() && mode & 0o077 != 0 {
            return Err(Error::Config(format!(
                "the {what} {shown} is open to other users (mode {mode:04o}): run \
                 `chmod 600 {shown}` (a key others can read is refused, as ssh refuses such a \
                 private key)"
            )));
        }
    }
    let _ = metadata;
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read the {what} {shown}: {e}")))?;
    if text.trim().is_empty() {
        return Err(Error::Config(format!(
            "the {what} {shown} is empty: {fill}"
        )));
    }
    Ok(secrecy::SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, Result<ConfigFile, Error>) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let loaded = ConfigFile::load(&path);
        (dir, loaded)
    }

    fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_path_follows_polyai_config_then_xdg_then_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        let all = env(&[
            ("POLYAI_CONFIG", "/etc/p.toml"),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(ConfigFile::path_from(all), Some("/etc/p.toml".into()));
        let xdg = env(&[
            ("POLYAI_CONFIG", ""),
            ("XDG_CONFIG_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            ConfigFile::path_from(xdg),
            Some("/x/polyai/config.toml".into())
        );
        let home = env(&[("HOME", "/h")]);
        assert_eq!(
            ConfigFile::path_from(home),
            Some("/h/.config/polyai/config.toml".into())
        );
        assert_eq!(ConfigFile::path_from(env(&[])), None);
    }

    #[test]
    fn profiles_load_with_relative_key_files() {
        let (dir, loaded) = config(
            "[profiles.default]\nregion = \"euw-1\"\nagent = \"PROJECT-1\"\n\
             [profiles.proxy]\nbase_url = \"http://127.0.0.1:9\"\naccount = \"ws-1\"\n\
             api_key_file = \"keys/proxy.key\"\n",
        );
        let config = loaded.unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = config.profiles().map(Profile::name).collect();
        assert_eq!(names, ["default", "proxy"]);
        let default = config.select(None).ok().flatten();
        assert_eq!(default.and_then(Profile::region), Some(Region::Eu));
        let proxy = config.profile("proxy").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(proxy.base_url(), Some("http://127.0.0.1:9"));
        assert_eq!(proxy.account(), Some("ws-1"));
        assert_eq!(
            proxy.api_key_file(),
            Some(dir.path().join("keys/proxy.key").as_path())
        );
    }

    #[test]
    fn mistakes_name_the_file_and_the_fix() {
        let (_dir, loaded) = config("[profiles.default]\nregoin = \"eu\"\n[profiles.b]\n");
        let loaded = loaded.unwrap_or_else(|e| panic!("{e}"));
        // One broken profile leaves the others usable, and fails when it is used.
        assert!(loaded.profile("b").is_ok());
        assert_eq!(loaded.broken().count(), 1);
        let err = message(loaded.select(None).map(|p| p.map(|p| p.name().to_owned())));
        assert!(
            err.contains("config.toml") && err.contains("regoin"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
        let (_dir, loaded) = config("[profiles.default]\nregion = \"mars\"\n");
        let err = message(loaded.and_then(|c| c.profile("default").map(|p| p.name().to_owned())));
        assert!(err.contains("[profiles.default] region"), "{err}");
        let (_dir, loaded) = config("[profile.default]\nregion = \"eu\"\n");
        assert!(message(loaded).contains("profile"));
        let (_dir, loaded) = config("[profiles.a]\n[profiles.b]\n");
        let config = loaded.unwrap_or_else(|e| panic!("{e}"));
        let err = message(config.select(Some("prod")));
        assert!(
            err.contains("no profile `prod`") && err.contains("a, b"),
            "{err}"
        );
        assert!(config.select(None).is_ok_and(|p| p.is_none()));
    }

    #[test]
    fn a_missing_file_has_no_profiles_and_says_so_when_one_is_named() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let config = ConfigFile::load(dir.path().join("none.toml"));
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.exists());
        assert!(message(config.profile("x")).contains("does not exist"));
    }

    #[test]
    fn a_builder_takes_the_profile_and_later_settings_win() {
        let (dir, loaded) = config(
            "[profiles.p]\nbase_url = \"http://127.0.0.1:9\"\napi_key_file = \"none.key\"\n",
        );
        let config = loaded.unwrap_or_else(|e| panic!("{e}"));
        let profile = config.profile("p").unwrap_or_else(|e| panic!("{e}"));
        let err = crate::Client::builder().profile(profile).build().err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains(&dir.path().join("none.key").display().to_string()),
            "{err}"
        );
        let client = crate::Client::builder()
            .profile(profile)
            .api_key("k")
            .build()
            .unwrap_or_else(|e| panic!("a key set later replaces the profile's: {e}"));
        assert_eq!(client.base_url(), "http://127.0.0.1:9");
        let client = crate::Client::builder()
            .profile(profile)
            .api_key("k")
            .base_url("http://127.0.0.1:8")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client.base_url(), "http://127.0.0.1:8");
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("key");
        assert!(message(read_key_file(&path)).contains("cannot read the API key file"));
        std::fs::write(&path, " \n").unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let set = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
            set(0o600).unwrap_or_else(|e| panic!("{e}"));
            assert!(message(read_key_file(&path)).contains("is empty"));
            std::fs::write(&path, "sk-secret\n").unwrap_or_else(|e| panic!("{e}"));
            for open in [0o644, 0o640, 0o606] {
                set(open).unwrap_or_else(|e| panic!("{e}"));
                let err = message(read_key_file(&path));
                assert!(
                    err.contains("chmod 600") && !err.contains("sk-secret"),
                    "{err}"
                );
            }
            set(0o400).unwrap_or_else(|e| panic!("{e}"));
        }
        let key = read_key_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
    }
}
