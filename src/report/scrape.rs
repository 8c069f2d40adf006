//! `orch metrics --serve ADDR`: a Prometheus scrape target. `GET /metrics`
//! answers the exposition, computed afresh on each scrape; anything else is
//! 404 (405 for other methods). HTTP/1.1 with one request per connection:
//! all a scraper needs, so a few lines of tokio rather than a server crate.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::metrics::CONTENT_TYPE;

/// Computes one scrape's body, or says why it cannot.
pub(crate) type Render = Arc<dyn Fn() -> Result<String, String> + Send + Sync>;

/// Longest request head read; a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;
/// A client that sends no full request head in this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Bind `addr`, tell `on_bound` where, then answer scrapes until `stop`
/// completes (Ctrl-C for the command).
pub(crate) fn serve<S, F>(
    addr: SocketAddr,
    render: Render,
    on_bound: impl FnOnce(SocketAddr),
    stop: impl FnOnce() -> S,
) -> std::io::Result<()>
where
    S: Future<Output = F>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        on_bound(listener.local_addr()?);
        let stop = stop();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                accepted = listener.accept() => {
                    // A failed accept (out of descriptors, a reset) costs
                    // that connection, not the server.
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(answer(stream, render.clone()));
                    }
                }
            }
        }
    })
}

async fn answer(mut stream: TcpStream, render: Render) {
    let Ok(Some(head)) = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, ctype, body) = match (method, path) {
        ("GET" | "HEAD", "/metrics") => match tokio::task::spawn_blocking(move || render()).await {
            Ok(Ok(text)) => ("200 OK", CONTENT_TYPE, text),
            Ok(Err(e)) => (
                "500 Internal Server Error",
                "text/plain; charset=utf-8",
                format!("{e}\n"),
            ),
            Err(_) => (
                "500 Internal Server Error",
                "text/plain; charset=utf-8",
                "the metrics could not be computed\n".to_string(),
            ),
        },
        (_, "/metrics") => (
            "405 Method Not Allowed",
            "text/plain; charset=utf-8",
            "only GET\n".to_string(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "not found; metrics are at /metrics\n".to_string(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request head (up to the blank line), or `None` if the client gave
/// up or sent too much.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
    }
}
