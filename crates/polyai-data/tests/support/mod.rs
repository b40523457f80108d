//! A scripted HTTP/1.1 server on loopback for the integration tests and the benchmark.
//!
//! Each request is recorded and answered by a handler closure. Replies can stream a generated
//! WAV body of any size (flat memory), announce a length and cut the body short, or wait before
//! answering.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}

/// A body to send.
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    /// A WAV file of `len` bytes generated on the fly; `announce` is the Content-Length sent
    /// (defaults to `len`), so `announce > len` simulates a cut connection.
    Wav {
        len: u64,
        announce: Option<u64>,
    },
    /// `head`, then `piece` bytes of 0x55 every `interval` until the client goes away.
    /// Without `announce` the body has no length and runs until the connection closes.
    Endless {
        head: Vec<u8>,
        piece: usize,
        interval: Duration,
        announce: Option<u64>,
    },
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Bytes(value.to_string().into_bytes()),
            delay: None,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: Body::Bytes(Vec::new()),
            delay: None,
        }
    }

    pub fn wav(len: u64) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "audio/wav".into())],
            body: Body::Wav {
                len,
                announce: None,
            },
            delay: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A 200 with `body`, `content-type` and no other header.
    pub fn body(content_type: &str, body: Body) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body,
            delay: None,
        }
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// The platform error envelope.
    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(
            status,
            serde_json::json!({
                "success": false, "error": message, "error_id": "srv-1",
                "error_code": code, "error_message": message, "data": null
            }),
        )
    }
}

pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> TestServer {
        let handler: Handler = Arc::new(handler);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, handler, recorded).await;
                });
            }
        });
        TestServer {
            addr,
            requests,
            task,
        }
    }

    /// Like [`start`](TestServer::start), with the handler also told which request this is
    /// (0 for the first).
    pub async fn counted(
        handler: impl Fn(usize, &Recorded) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        TestServer::start(move |r: &Recorded| {
            handler(calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst), r)
        })
        .await
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().expect("lock").len()
    }
}

async fn serve(
    mut stream: TcpStream,
    handler: Handler,
    recorded: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(8192);
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        req.parse(&buf[..head_end]).map_err(std::io::Error::other)?;
        let method = req.method.unwrap_or("").to_owned();
        let target = req.path.unwrap_or("/").to_owned();
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (target.clone(), String::new()),
        };
        let request = Recorded {
            method,
            path,
            query,
            headers,
            body,
        };
        recorded.lock().expect("lock").push(request.clone());
        let reply = handler(&request);
        if let Some(delay) = reply.delay {
            tokio::time::sleep(delay).await;
        }
        if !write_reply(&mut stream, reply).await? {
            return Ok(());
        }
    }
}

/// Writes a reply; returns whether the connection may be reused.
async fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<bool> {
    let (announce, actual) = match &reply.body {
        Body::Bytes(b) => (Some(b.len() as u64), b.len() as u64),
        Body::Wav { len, announce } => (Some(announce.unwrap_or(*len)), *len),
        Body::Endless { announce, .. } => (*announce, u64::MAX),
    };
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
    match announce {
        Some(announce) => head.push_str(&format!("content-length: {announce}\r\n")),
        None => head.push_str("connection: close\r\n"),
    }
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    match reply.body {
        Body::Bytes(b) => stream.write_all(&b).await?,
        Body::Wav { len, .. } => write_wav(stream, len).await?,
        Body::Endless {
            head,
            piece,
            interval,
            ..
        } => {
            stream.write_all(&head).await?;
            let piece = vec![0x55u8; piece];
            loop {
                stream.flush().await?;
                tokio::time::sleep(interval).await;
                stream.write_all(&piece).await?;
            }
        }
    }
    stream.flush().await?;
    if announce.is_some_and(|announce| actual < announce) {
        stream.shutdown().await?;
        return Ok(false);
    }
    Ok(true)
}

/// Streams a WAV file of `len` bytes (header declaring `len`) in 64 KiB chunks.
async fn write_wav(stream: &mut TcpStream, len: u64) -> std::io::Result<()> {
    let mut chunk = vec![0x55u8; 64 * 1024];
    let header = wav_header(len);
    let mut sent: u64 = 0;
    while sent < len {
        let n = (len - sent).min(chunk.len() as u64) as usize;
        if sent == 0 {
            let h = header.len().min(n);
            chunk[..h].copy_from_slice(&header[..h]);
        } else if sent as usize == chunk.len() {
            chunk[..header.len()].fill(0x55);
        }
        stream.write_all(&chunk[..n]).await?;
        sent += n as u64;
    }
    Ok(())
}

/// The 44-byte header of a PCM WAV file of `len` bytes in all (8 kHz, 16-bit mono).
pub fn wav_header(len: u64) -> Vec<u8> {
    let size = |n: u64| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let mut header = b"RIFF".to_vec();
    header.extend_from_slice(&size(len.saturating_sub(8)));
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&8000u32.to_le_bytes());
    header.extend_from_slice(&16000u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&size(len.saturating_sub(44)));
    header
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A client pointed at `server` with instant, recorded retry sleeps.
pub fn client_for(
    server: &TestServer,
    key: &str,
) -> (polyai_data::Client, Arc<Mutex<Vec<Duration>>>) {
    let delays = Arc::new(Mutex::new(Vec::new()));
    let seen = delays.clone();
    let client = polyai_data::Client::builder()
        .api_key(key)
        .base_url(server.url())
        .timeout(Duration::from_secs(10))
        .sleeper(move |d| {
            seen.lock().expect("lock").push(d);
            Box::pin(async {})
        })
        .build()
        .expect("client");
    (client, delays)
}

/// A conversation summary as the wire sends it.
pub fn summary(id: &str) -> serde_json::Value {
    serde_json::json!({
        "conversationId": id, "accountId": "PLATFORM", "projectId": "PROJECT-1",
        "createdAt": "2026-06-03T14:00:38.580000+00:00", "channel": "VOICE-SIP",
        "audioUrl": null, "note": null, "shortSummary": null, "tags": [], "totalDuration": 4
    })
}

/// The `limit` and `offset` a list request asks for (defaults 50 and 0).
pub fn limit_offset(request: &Recorded) -> (u64, u64) {
    let limit: u64 = request
        .query_param("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let offset: u64 = request
        .query_param("offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (limit, offset)
}

/// A list response carrying `items` out of `total`.
pub fn page_reply(items: Vec<serde_json::Value>, total: u64, limit: u64, offset: u64) -> Reply {
    Reply::json(
        200,
        serde_json::json!({"conversations": items, "count": total, "limit": limit, "offset": offset}),
    )
}

/// A list response over `total` conversations `c0…`, honouring `limit`/`offset`.
pub fn list_reply(request: &Recorded, total: u64) -> Reply {
    let (limit, offset) = limit_offset(request);
    let items: Vec<_> = (offset..total.min(offset + limit))
        .map(|i| summary(&format!("c{i}")))
        .collect();
    page_reply(items, total, limit, offset)
}

/// The conversation listing of agent `A`, the agent the scripted servers answer for.
pub fn list_a(client: &polyai_data::Client) -> polyai_data::conversations::ListConversations {
    client.agent("A").conversations().list()
}
