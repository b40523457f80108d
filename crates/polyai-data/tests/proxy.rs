//! A loopback base URL never goes through a proxy: with `HTTP_PROXY` set, plain `http://` to
//! the proxy would carry the API key in clear text.
//!
//! Its own test binary with one test: it sets proxy variables for the whole process.

mod support;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Recorded, TestServer, list_a, list_reply};

#[test]
fn loopback_base_url_bypasses_the_environment_proxy() {
    // A "proxy" that counts connections and answers each with a 502.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let proxy_url = format!("http://{}", proxy.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::thread::spawn(move || {
        for stream in proxy.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
        }
    });
    // SAFETY: set before the runtime (and any other thread that could read the environment)
    // starts; this binary holds no other test.
    unsafe {
        for var in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"] {
            std::env::set_var(var, &proxy_url);
        }
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let server = TestServer::start(|r: &Recorded| list_reply(r, 2)).await;
        for base in [
            server.url(),
            format!("http://localhost:{}", server.addr.port()),
        ] {
            let client = polyai_data::Client::builder()
                .api_key("sk-must-not-cross-a-proxy")
                .base_url(base.clone())
                .build()
                .expect("client");
            let page = list_a(&client).send().await;
            assert!(page.is_ok_and(|p| p.items().len() == 2), "{base}");
        }
        assert_eq!(server.count(), 2);
    });
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a request went through the proxy"
    );
}
