//! `polyai config init`: writes a profile and its key file, asking on a terminal (as `aws
//! configure` and `gh auth login` do); flags and stdin for scripts. The key is never a
//! command-line argument and never printed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use polyai_data::Region;
use polyai_data::config::{ConfigFile, DEFAULT_PROFILE, Profile, read_key_file};
use serde_json::json;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::{stdout_error, write_json, write_json_line};

/// Where the key comes from.
enum Key {
    /// A new key, to write to PROFILE.key.
    New(String),
    /// A key file the user keeps (`--api-key-file PATH`), referenced as it is.
    File(PathBuf),
    /// The profile's current key file, kept.
    Keep(PathBuf),
}

/// `config init`.
pub fn run(global: &GlobalArgs) -> Result<(), CliError> {
    let path = ConfigFile::default_path().ok_or_else(|| {
        CliError::Usage(
            "no config file location: set POLYAI_CONFIG, XDG_CONFIG_HOME or HOME".into(),
        )
    })?;
    let config = ConfigFile::load(&path).map_err(|e| {
        CliError::Usage(format!(
            "{e}; correct the file (or move it away) and run `polyai config init` again"
        ))
    })?;
    let name = global
        .profile
        .clone()
        .unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(CliError::Usage(format!(
            "--profile {name:?}: a profile name is letters, digits, - and _ (e.g. eu-prod)"
        )));
    }
    let existing = config.profile(&name).ok();
    let interactive =
        std::io::stdin().is_terminal() && crate::output::stdio::stderr().is_terminal();
    if interactive {
        crate::output::note!(
            "Setting up profile `{name}` in {} (Enter keeps the value in brackets).",
            path.display()
        );
    }
    let region = match &global.region {
        Some(region) => Some(region.clone()),
        None => ask(
            interactive,
            "Region (us, eu, uk, studio)",
            existing
                .and_then(Profile::region)
                .map(|r| r.name().to_owned()),
        )?,
    };
    if let Some(region) = &region {
        region.parse::<Region>().map_err(|e: polyai_data::Error| {
            CliError::Usage(format!("--region {region:?}: {e}"))
        })?;
    }
    let base_url = global
        .base_url
        .clone()
        .or_else(|| existing.and_then(Profile::base_url).map(str::to_owned));
    let agent = match &global.agent {
        Some(agent) => Some(agent.clone()),
        None => ask(
            interactive,
            "Agent id (Agent Studio → Project ID, e.g. PROJECT-58RP822I)",
            existing.and_then(Profile::agent).map(str::to_owned),
        )?,
    };
    let account = match &global.account {
        Some(account) => Some(account.clone()),
        None => ask(
            interactive,
            "Account id for the Conversations API v3 (Workspace ID, e.g. ws-fd112d8f; optional)",
            existing.and_then(Profile::account).map(str::to_owned),
        )?,
    };
    let current_key = existing
        .and_then(Profile::api_key_file)
        .map(Path::to_path_buf);
    let key = key(global, interactive, current_key)?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| CliError::file("creating the folder", &dir, e))?;
    let key_file = match key {
        Key::New(key) => {
            let file = dir.join(format!("{name}.key"));
            write_private(&file, &format!("{key}\n"))?;
            file
        }
        Key::File(file) | Key::Keep(file) => file,
    };
    // A key file beside the config file is written by its name (resolved from that folder).
    let key_setting = match key_file.strip_prefix(&dir) {
        Ok(relative) if relative.components().count() == 1 => relative.to_path_buf(),
        _ => key_file.clone(),
    };
    let mut table = format!("[profiles.{name}]\n");
    let settings = [
        ("region", region.as_deref()),
        ("base_url", base_url.as_deref()),
        ("agent", agent.as_deref()),
        ("account", account.as_deref()),
        ("api_key_file", Some(&*key_setting.to_string_lossy())),
    ];
    for (setting, value) in settings {
        if let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) {
            table.push_str(&format!("{setting} = {}\n", toml_string(value)));
        }
    }
    let old = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::file("reading", &path, e)),
    };
    let text = replace_table(&old, &name, &table);
    let staged = dir.join(format!(".config.toml.{}.part", std::process::id()));
    write_private(&staged, &text)?;
    if let Err(e) = ConfigFile::load(&staged).and_then(|c| c.profile(&name).map(|_| ())) {
        let _ = std::fs::remove_file(&staged);
        return Err(CliError::Other(format!(
            "the profile written would not load ({e}); {} is unchanged",
            path.display()
        )));
    }
    std::fs::rename(&staged, &path).map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        CliError::file("replacing", &path, e)
    })?;
    let mut out = crate::output::stdout();
    let record = json!({
        "profile": name,
        "file": path.display().to_string(),
        "region": region,
        "baseUrl": base_url,
        "agent": agent,
        "account": account,
        "apiKeyFile": key_file.display().to_string(),
    });
    match global.output {
        OutputFormat::Json => write_json(&mut out, &record),
        OutputFormat::Jsonl | OutputFormat::Csv => write_json_line(&mut out, &record),
        OutputFormat::Table => {
            let select = if name == DEFAULT_PROFILE {
                String::new()
            } else {
                format!("--profile {name} ")
            };
            writeln!(
                out,
                "saved profile `{name}` in {} (key file {}, readable by you alone)\n\
                 try: polyai {select}conversations list --limit 5",
                path.display(),
                key_file.display()
            )
        }
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

/// Asks for a setting on a terminal (Enter keeps `current`); elsewhere keeps `current`.
fn ask(
    interactive: bool,
    label: &str,
    current: Option<String>,
) -> Result<Option<String>, CliError> {
    if !interactive {
        return Ok(current);
    }
    let shown = current.as_deref().unwrap_or("none");
    crate::output::stdio::prompt(&format!("{label} [{shown}]: "));
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::file("reading", "<stdin>", e))?;
    let line = line.trim();
    Ok(if line.is_empty() {
        current
    } else if line == "-" {
        None
    } else {
        Some(line.to_owned())
    })
}

/// The key: `--api-key-file -` (stdin) or PATH, else asked for on a terminal without echo,
/// else `POLYAI_API_KEY`, else the profile's current key file.
fn key(global: &GlobalArgs, interactive: bool, current: Option<PathBuf>) -> Result<Key, CliError> {
    match global.api_key_file.as_deref() {
        Some(path) if path == Path::new("-") => {
            let text = crate::session::read_text(path)?;
            return checked(text.trim(), "the key read from stdin (--api-key-file -)")
                .map(Key::New);
        }
        Some(path) => {
            read_key_file(path)?;
            let path =
                std::path::absolute(path).map_err(|e| CliError::file("resolving", path, e))?;
            return Ok(Key::File(path));
        }
        None => {}
    }
    if interactive {
        let keep = if current.is_some() {
            "Enter keeps the current key file"
        } else {
            "not echoed"
        };
        crate::output::stdio::prompt(&format!("API key (Agent Studio → API Keys; {keep}): "));
        let typed = console::Term::stderr()
            .read_secure_line()
            .map_err(|e| CliError::file("reading", "<terminal>", e))?;
        let typed = typed.trim();
        if !typed.is_empty() {
            return checked(typed, "the key typed").map(Key::New);
        }
    } else if let Ok(key) = std::env::var(crate::session::ENV_API_KEY)
        && !key.trim().is_empty()
    {
        return checked(key.trim(), crate::session::ENV_API_KEY).map(Key::New);
    }
    match current {
        Some(file) => Ok(Key::Keep(file)),
        None => Err(CliError::Usage(
            "no API key given: pipe it in with `--api-key-file -` (e.g. `pass show polyai | \
             polyai config init --api-key-file -`), set POLYAI_API_KEY, or run init on a \
             terminal to be asked; the key is never a command-line argument"
                .into(),
        )),
    }
}

/// Refuses an empty key or one with spaces (a pasted line with a label, two keys).
fn checked(key: &str, what: &str) -> Result<String, CliError> {
    if key.is_empty() {
        return Err(CliError::Usage(format!(
            "{what} is empty: give the key from Agent Studio → API Keys"
        )));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CliError::Usage(format!(
            "{what} holds spaces or several lines: give the key alone"
        )));
    }
    Ok(key.to_owned())
}

/// Writes `text` to `path` readable by its owner alone (0600 on Unix), through a file beside
/// it renamed into place.
fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".new");
    let staged = PathBuf::from(staged);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&staged).and_then(|mut file| {
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&staged, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&staged);
            CliError::file("writing", path, e)
        })
}

/// `value` as a TOML basic string.
fn toml_string(value: &str) -> String {
    let mut text = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            c if c.is_control() => text.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => text.push(c),
        }
    }
    text.push('"');
    text
}

/// `text` with the table `[profiles.NAME]` (its header line to the next header) replaced by
/// `table`, or `table` appended; every other line is kept as it was.
fn replace_table(text: &str, name: &str, table: &str) -> String {
    let headers = [
        format!("[profiles.{name}]"),
        format!("[profiles.\"{name}\"]"),
    ];
    let is_header = |line: &str| {
        let line = line.split('#').next().unwrap_or_default().trim();
        headers.iter().any(|h| h == line)
    };
    let mut kept = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in text.lines() {
        if is_header(line) {
            inside = true;
            if !placed {
                kept.push_str(table);
                placed = true;
            }
            continue;
        }
        if inside && line.trim_start().starts_with('[') {
            inside = false;
            kept.push('\n');
        }
        if !inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if !placed {
        if !kept.is_empty() && !kept.ends_with("\n\n") {
            kept.push('\n');
        }
        kept.push_str(table);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_table_is_replaced_and_the_rest_kept() {
        let old = "# mine\n[profiles.default]\nregion = \"us\"\n\n[profiles.eu] # EU\nregion = \"eu\"\nagent = \"A\"\n\n[profiles.z]\nagent = \"Z\"\n";
        let new = replace_table(old, "eu", "[profiles.eu]\nregion = \"uk\"\n");
        assert_eq!(
            new,
            "# mine\n[profiles.default]\nregion = \"us\"\n\n[profiles.eu]\nregion = \"uk\"\n\n[profiles.z]\nagent = \"Z\"\n"
        );
        let added = replace_table("[profiles.a]\n", "b", "[profiles.b]\n");
        assert_eq!(added, "[profiles.a]\n\n[profiles.b]\n");
        assert_eq!(replace_table("", "b", "[profiles.b]\n"), "[profiles.b]\n");
    }

    #[test]
    fn values_are_quoted() {
        assert_eq!(toml_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(toml_string("x\ny"), "\"x\\u000Ay\"");
    }
}
