//! The progress webhook (`ORCHESTRATION_PROGRESS_WEBHOOK_URL` or
//! `telemetry.webhook_url`): every event POSTed as JSON, in order.
//!
//! It never slows or fails a run: [`Sink::event`] only puts the event in a
//! bounded queue (a full queue drops it, and counts it); a task of its own
//! delivers the queue one request at a time, with retries. After the run,
//! [`Webhook::finish`] waits a little for the queue to drain and says how
//! many events did not arrive.
//!
//! The URL may hold a token (in its query string or user info): it is never
//! printed; [`Webhook::endpoint`] is `scheme://host:port` only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::event::{Event, Sink};

/// Events waiting for delivery at most; beyond, new events are dropped.
pub(crate) const QUEUE_CAPACITY: usize = 1024;

/// What happened to the events given to a webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WebhookReport {
    /// Answered with a 2xx.
    pub(crate) delivered: u64,
    /// Dropped (queue full, or given after `finish`), refused or failed after
    /// retries, or still queued when `finish` gave up waiting.
    pub(crate) undelivered: u64,
}

/// How delivery goes (tests shorten it).
#[derive(Debug, Clone)]
struct Config {
    capacity: usize,
    attempts: u32,
    /// Pause before the 2nd, 3rd, … attempt (the last one repeats).
    backoff: Vec<Duration>,
    timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capacity: QUEUE_CAPACITY,
            attempts: 3,
            backoff: vec![Duration::from_millis(100), Duration::from_millis(400)],
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// Put in the queue.
    accepted: AtomicU64,
    /// Not put in the queue.
    dropped: AtomicU64,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl Counts {
    /// Every accepted event is delivered, failed, or was still queued (or in
    /// flight) when delivery stopped: all but the delivered ones count as
    /// undelivered.
    fn report(&self) -> WebhookReport {
        let accepted = self.accepted.load(Ordering::SeqCst);
        let delivered = self.delivered.load(Ordering::SeqCst);
        let dropped = self.dropped.load(Ordering::SeqCst);
        WebhookReport {
            delivered,
            undelivered: dropped + accepted.saturating_sub(delivered),
        }
    }
}

/// A sink that POSTs every event to a URL. Output lines are not sent.
pub(crate) struct Webhook {
    /// None once `finish` began: later events are dropped.
    tx: Mutex<Option<mpsc::Sender<String>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    counts: Arc<Counts>,
    endpoint: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Spawns the delivery task on the current tokio runtime (must be called
    /// inside one). An invalid URL is not an error here: every event then
    /// counts as undelivered.
    pub(crate) fn start(url: String) -> Arc<Webhook> {
        Self::start_with(url, Config::default())
    }

    fn start_with(url: String, cfg: Config) -> Arc<Webhook> {
        let parsed = Url::parse(&url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        let endpoint = parsed
            .as_ref()
            .map(endpoint_of)
            .unwrap_or_else(|| "(invalid URL)".to_string());
        let client = reqwest::Client::builder()
            .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
            .timeout(cfg.timeout)
            // A redirected POST may turn into a GET: count it as a failure
            // rather than as delivered.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok();
        let target = parsed.zip(client);
        let (tx, rx) = mpsc::channel(cfg.capacity.max(1));
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(deliver(target, rx, counts.clone(), cfg));
        Arc::new(Webhook {
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
            counts,
            endpoint,
        })
    }

    /// `scheme://host:port` of the URL: safe to print (no path, query or
    /// credentials).
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    #[cfg(test)]
    /// The counts so far.
    pub(crate) fn report(&self) -> WebhookReport {
        self.counts.report()
    }

    /// After the run: wait at most `grace` for the queue to drain, then
    /// stop. Events given afterwards are dropped (and counted).
    pub(crate) async fn finish(&self, grace: Duration) -> WebhookReport {
        // Closing the queue lets the task end once it is empty.
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
                // Wait until it is really gone, so the counts hold still.
                let _ = task.await;
            }
        }
        self.counts.report()
    }
}

impl Sink for Webhook {
    fn event(&self, ev: &Event) {
        let Ok(body) = serde_json::to_string(ev) else {
            self.counts.dropped.fetch_add(1, Ordering::SeqCst);
            return;
        };
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let sent = tx.as_ref().is_some_and(|tx| tx.try_send(body).is_ok());
        let counter = if sent {
            &self.counts.accepted
        } else {
            &self.counts.dropped
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

fn endpoint_of(u: &Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    }
}

/// The delivery task: the queue in order, one request at a time.
async fn deliver(
    target: Option<(Url, reqwest::Client)>,
    mut rx: mpsc::Receiver<String>,
    counts: Arc<Counts>,
    cfg: Config,
) {
    while let Some(body) = rx.recv().await {
        let ok = match &target {
            Some((url, client)) => post(client, url, body, &cfg).await,
            None => false,
        };
        let counter = if ok {
            &counts.delivered
        } else {
            &counts.failed
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// One event, with retries; true once answered with a 2xx.
async fn post(client: &reqwest::Client, url: &Url, body: String, cfg: &Config) -> bool {
    for attempt in 0..cfg.attempts.max(1) {
        if attempt > 0 {
            let i = (attempt as usize - 1).min(cfg.backoff.len().saturating_sub(1));
            if let Some(pause) = cfg.backoff.get(i) {
                tokio::time::sleep(*pause).await;
            }
        }
        let sent = client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => return true,
            Ok(resp) if !retryable(resp.status()) => return false,
            // Connection errors, timeouts, 5xx, 408, 429: try again.
            _ => {}
        }
    }
    false
}

/// Another attempt may succeed: server errors, timeouts, rate limits. Other
/// answers (a 404, a redirect) will not change.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Output, OutputLine, Status, Stream};
    use std::collections::VecDeque;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Instant;

    /// What the test server saw: each request's content type and body.
    type Seen = Arc<Mutex<Vec<(String, String)>>>;

    /// A tiny HTTP/1.1 responder: answers each request with the next status
    /// of `script`, then with `then`; closes the connection after each.
    fn server(script: &[u16], then: u16) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook?token=sekrit",
            listener.local_addr().unwrap()
        );
        let seen: Seen = Arc::default();
        let seen2 = seen.clone();
        let mut script: VecDeque<u16> = script.iter().copied().collect();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Some(req) = read_request(&stream) else {
                    continue;
                };
                seen2.lock().unwrap().push(req);
                let status = script.pop_front().unwrap_or(then);
                let mut stream = stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        (url, seen)
    }

    fn read_request(stream: &TcpStream) -> Option<(String, String)> {
        let mut r = BufReader::new(stream);
        let mut len = 0usize;
        let mut ctype = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().ok()?,
                    "content-type" => ctype = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).ok()?;
        Some((ctype, String::from_utf8(body).ok()?))
    }

    /// Accepts connections and never answers.
    fn hanging_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let mut keep = Vec::new();
            for s in listener.incoming().flatten() {
                keep.push(s);
            }
        });
        url
    }

    fn closed_port() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}/hook")
    }

    fn quick() -> Config {
        Config {
            backoff: vec![Duration::from_millis(10), Duration::from_millis(20)],
            timeout: Duration::from_secs(2),
            ..Config::default()
        }
    }

    fn event(kind: EventKind) -> Event {
        Event::new(kind, &Arc::from("r1"), &Arc::from("wf"))
    }

    fn started(step: &str) -> Event {
        event(EventKind::StepStarted {
            step: step.to_string(),
            attempt: None,
            max_attempts: None,
        })
    }

    fn completed() -> Event {
        event(EventKind::RunFinished {
            summary: Arc::new(crate::event::RunSummary {
                status: Status::Succeeded,
                steps: Vec::new(),
                failures: Vec::new(),
                outputs: Default::default(),
                error: None,
                duration: Duration::from_millis(5),
                waiting: Vec::new(),
                compensation_failures: Vec::new(),
            }),
        })
    }

    #[test]
    fn counting() {
        let c = Counts::default();
        assert_eq!(c.report(), WebhookReport::default());
        c.accepted.store(10, Ordering::SeqCst);
        c.delivered.store(6, Ordering::SeqCst);
        c.failed.store(1, Ordering::SeqCst);
        c.dropped.store(3, Ordering::SeqCst);
        // 1 failed + 3 still queued + 3 dropped.
        assert_eq!(
            c.report(),
            WebhookReport {
                delivered: 6,
                undelivered: 7
            }
        );
    }

    #[test]
    fn retryable_statuses() {
        assert!(retryable(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(retryable(StatusCode::REQUEST_TIMEOUT));
        assert!(!retryable(StatusCode::NOT_FOUND));
        assert!(!retryable(StatusCode::FOUND));
    }

    #[tokio::test]
    async fn endpoint_hides_credentials_path_and_query() {
        let w = Webhook::start("https://user:pw@hooks.example.com/x/y?token=abc".into());
        assert_eq!(w.endpoint(), "https://hooks.example.com:443");
        let w = Webhook::start("http://[::1]:8080/h?t=1".into());
        assert_eq!(w.endpoint(), "http://[::1]:8080");
        let w = Webhook::start("not a url?token=abc".into());
        assert_eq!(w.endpoint(), "(invalid URL)");
        w.event(&started("a"));
        let r = w.finish(Duration::from_secs(1)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 0,
                undelivered: 1
            }
        );
    }

    #[tokio::test]
    async fn delivers_every_event_in_order() {
        let (url, seen) = server(&[], 200);
        let w = Webhook::start_with(url, quick());
        let events: Vec<Event> = (0..5).map(|i| started(&format!("s{i}"))).collect();
        for e in &events {
            w.event(e);
        }
        // Output lines are not sent.
        w.output(&Output::one(
            "s0",
            &OutputLine {
                stream: Stream::Stdout,
                line: "hello",
                partial: false,
            },
        ));
        let r = w.finish(Duration::from_secs(10)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 5,
                undelivered: 0
            }
        );
        let seen = seen.lock().unwrap().clone();
        let want: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                (
                    "application/json".to_string(),
                    serde_json::to_string(e).unwrap(),
                )
            })
            .collect();
        assert_eq!(seen, want);
        // Given after finish: dropped, counted.
        w.event(&events[0]);
        assert_eq!(
            w.report(),
            WebhookReport {
                delivered: 5,
                undelivered: 1
            }
        );
    }

    #[tokio::test]
    async fn retries_a_500_then_delivers() {
        let (url, seen) = server(&[500, 503], 200);
        let w = Webhook::start_with(url, quick());
        w.event(&event(EventKind::RunStarted));
        let r = w.finish(Duration::from_secs(10)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 1,
                undelivered: 0
            }
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn gives_up_after_three_attempts() {
        let (url, seen) = server(&[], 500);
        let w = Webhook::start_with(url, quick());
        w.event(&event(EventKind::RunStarted));
        let r = w.finish(Duration::from_secs(10)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 0,
                undelivered: 1
            }
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_404_is_not_retried() {
        let (url, seen) = server(&[404], 200);
        let w = Webhook::start_with(url, quick());
        w.event(&event(EventKind::RunStarted));
        w.event(&completed());
        let r = w.finish(Duration::from_secs(10)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 1,
                undelivered: 1
            }
        );
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn connection_refused_is_undelivered() {
        let w = Webhook::start_with(closed_port(), quick());
        w.event(&event(EventKind::RunStarted));
        w.event(&completed());
        let r = w.finish(Duration::from_secs(10)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 0,
                undelivered: 2
            }
        );
    }

    #[tokio::test]
    async fn a_hanging_endpoint_never_slows_the_run() {
        let w = Webhook::start(hanging_server());
        let e = started("a");
        let t = Instant::now();
        for _ in 0..100 {
            w.event(&e);
        }
        let spent = t.elapsed();
        assert!(spent < Duration::from_millis(50), "{spent:?}");
        // Let the task take the first event and hang on it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let grace = Duration::from_millis(300);
        let t = Instant::now();
        let r = w.finish(grace).await;
        let spent = t.elapsed();
        assert!(spent >= grace && spent < grace * 3, "{spent:?}");
        assert_eq!(
            r,
            WebhookReport {
                delivered: 0,
                undelivered: 100
            }
        );
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts() {
        let cfg = Config {
            capacity: 4,
            ..quick()
        };
        let w = Webhook::start_with(hanging_server(), cfg);
        let e = started("a");
        for _ in 0..20 {
            w.event(&e);
        }
        // Nothing was taken yet (the task has not run): 4 queued, 16 dropped.
        assert_eq!(w.counts.accepted.load(Ordering::SeqCst), 4);
        assert_eq!(w.counts.dropped.load(Ordering::SeqCst), 16);
        let r = w.finish(Duration::from_millis(100)).await;
        assert_eq!(
            r,
            WebhookReport {
                delivered: 0,
                undelivered: 20
            }
        );
    }
}
