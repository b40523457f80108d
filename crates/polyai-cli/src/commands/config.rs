//! `polyai config init|list|show`: the profiles of the config file, never a key.

use std::io::Write;

use polyai_data::config::{ConfigFile, DEFAULT_PROFILE, Profile, read_key_file};
use serde_json::json;

use crate::cli::{ConfigCommand, GlobalArgs, OutputFormat};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::output::{Table, or_dash, write_json, write_json_line};

/// Runs `config init`, `config list` or `config show`.
pub fn run(global: &GlobalArgs, command: &ConfigCommand) -> Result<(), CliError> {
    if let ConfigCommand::Init = command {
        return init::run(global);
    }
    let config = ConfigFile::load_default()?;
    if config.path().as_os_str().is_empty() {
        return Err(CliError::Usage(
            "no config file location: set POLYAI_CONFIG, XDG_CONFIG_HOME or HOME".into(),
        ));
    }
    let in_use = config
        .select(global.profile.as_deref())
        .ok()
        .flatten()
        .map(|p| p.name().to_owned());
    match command {
        ConfigCommand::Init => Ok(()),
        ConfigCommand::List => list(&config, in_use.as_deref(), global.output),
        ConfigCommand::Show(args) => {
            let profile = match args.name.as_deref().or(global.profile.as_deref()) {
                Some(name) => config.profile(name)?,
                None => config.profile(DEFAULT_PROFILE).map_err(|_| {
                    CliError::Usage(format!(
                        "no profile named and no `{DEFAULT_PROFILE}` profile in {}: \
                         `polyai config show NAME` (see `polyai config list`)",
                        config.path().display()
                    ))
                })?,
            };
            show(&config, profile, global.output)
        }
    }
}

/// The key file's state, never its content: `ok`, `none`, or what is wrong with it.
fn key_status(profile: &Profile) -> String {
    match profile.api_key_file() {
        None => "none".into(),
        Some(path) => match read_key_file(path) {
            Ok(_) => "ok".into(),
            Err(polyai_data::Error::Config(message)) => message,
            Err(err) => err.to_string(),
        },
    }
}

fn record(profile: &Profile, in_use: bool) -> serde_json::Value {
    json!({
        "name": profile.name(),
        "inUse": in_use,
        "region": profile.region().map(|r| r.name()),
        "baseUrl": profile.base_url(),
        "agent": profile.agent(),
        "account": profile.account(),
        "apiKeyFile": profile.api_key_file().map(|p| p.display().to_string()),
        "apiKeyFileStatus": key_status(profile),
    })
}

fn list(config: &ConfigFile, in_use: Option<&str>, format: OutputFormat) -> Result<(), CliError> {
    if !config.exists() {
        crate::output::note!(
            "polyai: {} does not exist yet; `polyai config --help` shows its format",
            config.path().display()
        );
    }
    // A profile with a mistake is listed with it; the others stay usable.
    for (name, message) in config.broken() {
        crate::output::note!("polyai: profile `{name}` is not usable: {message}");
    }
    let mut out = crate::output::stdout();
    let broken = config
        .broken()
        .map(|(name, message)| json!({"name": name, "inUse": false, "error": message}));
    let records = config
        .profiles()
        .map(|p| record(p, Some(p.name()) == in_use))
        .chain(broken);
    match format {
        OutputFormat::Json => write_json(&mut out, &records.collect::<Vec<_>>()),
        OutputFormat::Jsonl => records
            .into_iter()
            .try_for_each(|r| write_json_line(&mut out, &r)),
        OutputFormat::Table | OutputFormat::Csv => {
            let mut table = Table::new([
                "PROFILE", "IN USE", "REGION", "BASE URL", "AGENT", "ACCOUNT", "KEY FILE", "KEY",
            ])
            // Ids, URLs and paths: nothing is cut.
            .flexible(None);
            for p in config.profiles() {
                table.push(vec![
                    p.name().to_owned(),
                    if Some(p.name()) == in_use { "*" } else { "" }.to_owned(),
                    or_dash(p.region().map(|r| r.name())),
                    or_dash(p.base_url()),
                    or_dash(p.agent()),
                    or_dash(p.account()),
                    or_dash(p.api_key_file().map(|f| f.display().to_string()).as_deref()),
                    key_status(p),
                ]);
            }
            for (name, _) in config.broken() {
                let mut row = vec![name.to_owned(), String::new()];
                row.resize(7, "?".to_owned());
                row.push("not usable: see above".to_owned());
                table.push(row);
            }
            table.write_as(&mut out, format)
        }
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

fn show(config: &ConfigFile, profile: &Profile, format: OutputFormat) -> Result<(), CliError> {
    let mut out = crate::output::stdout();
    let mut value = record(profile, false);
    if let Some(object) = value.as_object_mut() {
        object.remove("inUse");
        object.insert("file".into(), config.path().display().to_string().into());
    }
    match format {
        OutputFormat::Json => write_json(&mut out, &value),
        OutputFormat::Jsonl => write_json_line(&mut out, &value),
        OutputFormat::Table | OutputFormat::Csv => {
            let mut table = Table::new(["SETTING", "VALUE"]).flexible(None);
            let rows = [
                ("profile", Some(profile.name().to_owned())),
                ("file", Some(config.path().display().to_string())),
                ("region", profile.region().map(|r| r.name().to_owned())),
                ("base_url", profile.base_url().map(str::to_owned)),
                ("agent", profile.agent().map(str::to_owned)),
                ("account", profile.account().map(str::to_owned)),
                (
                    "api_key_file",
                    profile.api_key_file().map(|p| p.display().to_string()),
                ),
                ("key", Some(key_status(profile))),
            ];
            for (setting, value) in rows {
                table.push(vec![setting.to_owned(), or_dash(value.as_deref())]);
            }
            table.write_as(&mut out, format)
        }
    }
    .and_then(|()| out.flush())
    .map_err(stdout_error)
}

mod init;
