//! S3 configuration: the AWS environment variables (through `object_store`), and the shared
//! `credentials` and `config` files' profile (`AWS_PROFILE`, default `default`) for what the
//! environment does not set, as the AWS CLI reads them. Static keys, region and `endpoint_url`
//! are read from a profile; for SSO or `credential_process` profiles, export the credentials
//! (`aws configure export-credentials --format env`) or use instance, container or web
//! identity credentials, which `object_store` finds itself.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

pub(crate) fn s3(url: &url::Url) -> Result<Arc<dyn ObjectStore>, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let home = env("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
        .and_then(|path| section(&path, &profile))
        .unwrap_or_default();
    let config_section = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let config = file("AWS_CONFIG_FILE", "config")
        .and_then(|path| section(&path, &config_section))
        .unwrap_or_default();
    let setting = |key: &str| credentials.get(key).or_else(|| config.get(key)).cloned();
    if env("AWS_ACCESS_KEY_ID").is_none()
        && let (Some(id), Some(secret)) = (
            setting("aws_access_key_id"),
            setting("aws_secret_access_key"),
        )
    {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = setting("aws_session_token") {
            builder = builder.with_token(token);
        }
    }
    if env("AWS_REGION").is_none()
        && env("AWS_DEFAULT_REGION").is_none()
        && let Some(region) = setting("region")
    {
        builder = builder.with_region(region);
    }
    if env("AWS_ENDPOINT_URL").is_none()
        && env("AWS_ENDPOINT").is_none()
        && let Some(endpoint) = setting("endpoint_url")
    {
        builder = builder.with_config(AmazonS3ConfigKey::Endpoint, endpoint);
    }
    builder
        .build()
        .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        .map_err(|e| e.to_string())
}

/// The `key = value` lines of `[name]` in an INI file; `None` when the file or section is
/// missing or unreadable.
fn section(path: &std::path::Path, name: &str) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut found = None;
    let mut current = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = header.trim() == name;
            if current {
                found.get_or_insert_with(HashMap::new);
            }
            continue;
        }
        if current
            && let Some((key, value)) = line.split_once('=')
            && let Some(map) = found.as_mut()
        {
            map.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_by_section() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = A\n# c\n[work]\naws_access_key_id=B\nregion = eu-west-1\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let work = section(&path, "work").unwrap_or_default();
        assert_eq!(work.get("aws_access_key_id").map(String::as_str), Some("B"));
        assert_eq!(work.get("region").map(String::as_str), Some("eu-west-1"));
        assert!(section(&path, "other").is_none());
        assert!(section(&dir.path().join("missing"), "default").is_none());
    }
}
