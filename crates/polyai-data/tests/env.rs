//! `Client::from_env` and `ClientBuilder::from_env`. Alone in its own test binary because it
//! sets process environment variables.

use polyai_data::Client;
use polyai_data::config::{ENV_API_KEY, ENV_BASE_URL, ENV_REGION};

fn set(name: &str, value: Option<&str>) {
    // SAFETY: this binary runs this single test; no other thread reads the environment.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn from_env_reads_key_region_and_base_url() {
    set(ENV_API_KEY, None);
    set(ENV_REGION, None);
    set(ENV_BASE_URL, None);
    let err = Client::from_env().expect_err("no key");
    assert!(err.to_string().contains(ENV_API_KEY), "{err}");

    set(ENV_API_KEY, Some("env-secret-key"));
    let client = Client::from_env().expect("defaults to us");
    assert_eq!(client.base_url(), "https://api.us.poly.ai");
    assert!(!format!("{client:?}").contains("env-secret-key"));

    set(ENV_REGION, Some("euw-1"));
    assert_eq!(
        Client::from_env().expect("eu").base_url(),
        "https://api.eu.poly.ai"
    );

    set(ENV_REGION, Some("moon-1"));
    let err = Client::from_env().expect_err("bad region");
    assert!(
        err.to_string().contains("POLYAI_REGION") && err.to_string().contains("us-1"),
        "{err}"
    );

    set(ENV_BASE_URL, Some("http://localhost:8080/"));
    set(ENV_REGION, Some("uk"));
    let client = Client::builder().from_env().build().expect("base url wins");
    assert_eq!(client.base_url(), "http://localhost:8080");

    set(ENV_BASE_URL, Some("http://example.com"));
    assert!(
        Client::from_env().is_err(),
        "plain http to a remote host is refused"
    );
    for name in [ENV_API_KEY, ENV_REGION, ENV_BASE_URL] {
        set(name, None);
    }
}
