//! Service health checks: one `GET base_url + health_check.path` per service,
//! healthy when it answers 2xx within the check's timeout. Health checks send
//! no credentials, whatever the service's `auth` says: a health endpoint must
//! answer anonymously, and a check never puts a secret on the wire.

use std::time::{Duration, Instant};

use crate::model::{HealthCheck, Service};

/// The timeout of a health check that sets none.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The outcome of one service's health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Health {
    /// What was requested (credentials in the URL masked); `None` when the
    /// service has no `health_check`.
    pub(crate) url: Option<String>,
    /// `None` when the service has no `health_check`.
    pub(crate) healthy: Option<bool>,
    /// The HTTP status, when there was an answer.
    pub(crate) status: Option<u16>,
    /// Why there was no answer: `connection refused`, `timed out after 2s`, …
    pub(crate) error: Option<String>,
    /// From sending the request to the response's head (or the failure).
    pub(crate) latency: Option<Duration>,
}

impl Health {
    fn no_check() -> Health {
        Health {
            url: None,
            healthy: None,
            status: None,
            error: None,
            latency: None,
        }
    }

    /// Checked and not healthy (a service without a check is not unhealthy).
    pub(crate) fn is_unhealthy(&self) -> bool {
        self.healthy == Some(false)
    }
}

/// The timeout a health check runs with.
pub(crate) fn timeout(hc: &HealthCheck) -> Duration {
    hc.timeout.unwrap_or(DEFAULT_TIMEOUT)
}

/// `base_url` + `path`, with exactly one `/` between them.
pub(crate) fn url(base_url: &str, path: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if path.is_empty() {
        base.to_string()
    } else if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

pub(crate) use crate::http_client::display_url;

/// Run `svc`'s health check (no credentials are sent).
pub(crate) async fn check(client: &reqwest::Client, svc: &Service) -> Health {
    let Some(hc) = &svc.health_check else {
        return Health::no_check();
    };
    let target = url(&svc.base_url, &hc.path);
    let limit = timeout(hc);
    let shown = Some(display_url(&target));
    let parsed = match reqwest::Url::parse(&target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        Ok(u) => {
            return unhealthy(
                shown,
                format!("unsupported URL scheme `{}`", u.scheme()),
                None,
            )
        }
        Err(e) => return unhealthy(shown, format!("invalid URL: {e}"), None),
    };
    let started = Instant::now();
    let sent = client.get(parsed).timeout(limit).send();
    // reqwest enforces the timeout; this one only guards against a hang in it.
    let result = tokio::time::timeout(limit + Duration::from_millis(500), sent).await;
    let latency = started.elapsed();
    match result {
        Ok(Ok(response)) => {
            let status = response.status();
            Health {
                url: shown,
                healthy: Some(status.is_success()),
                status: Some(status.as_u16()),
                error: None,
                latency: Some(latency),
            }
        }
        Ok(Err(e)) if e.is_timeout() => unhealthy(shown, timed_out(limit), Some(latency)),
        Ok(Err(e)) => unhealthy(shown, describe(&e), Some(latency)),
        Err(_) => unhealthy(shown, timed_out(limit), Some(latency)),
    }
}

fn unhealthy(url: Option<String>, error: String, latency: Option<Duration>) -> Health {
    Health {
        url,
        healthy: Some(false),
        status: None,
        error: Some(error),
        latency,
    }
}

fn timed_out(limit: Duration) -> String {
    format!("timed out after {}", duration_text(limit))
}

/// A configured duration, much as it is written in orchestration.yaml:
/// `200ms`, `2s`, `1.5s`, `1m30s`.
pub(crate) fn duration_text(d: Duration) -> String {
    if d < Duration::from_secs(1) || d.subsec_millis() == 0 {
        let whole_ms = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        humantime::format_duration(whole_ms)
            .to_string()
            .replace(' ', "")
    } else {
        crate::duration::short(d)
    }
}

/// A short cause for a failed request: reqwest's own message is generic
/// ("error sending request"); the cause is further down the chain. The URL
/// is left out (the table names the service).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    let mut innermost = None;
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            if let Some(text) = io_kind_text(io.kind()) {
                return text.to_string();
            }
        }
        innermost = Some(next);
        cause = next;
    }
    match innermost {
        Some(inner) => inner.to_string(),
        None => e.to_string(),
    }
}

fn io_kind_text(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::UnexpectedEof => "connection closed before an answer",
        K::TimedOut => "connect timed out",
        K::AddrNotAvailable => "address not available",
        K::HostUnreachable => "host unreachable",
        K::NetworkUnreachable => "network unreachable",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_urls() {
        assert_eq!(url("http://h:1", "/health"), "http://h:1/health");
        assert_eq!(url("http://h:1/", "/health"), "http://h:1/health");
        assert_eq!(url("http://h:1/api", "health"), "http://h:1/api/health");
        assert_eq!(url("http://h:1/", ""), "http://h:1");
    }

    #[test]
    fn masks_passwords() {
        assert_eq!(
            display_url("http://me:hunter2@h:1/health"),
            "http://me:***@h:1/health"
        );
        assert_eq!(display_url("http://h:1/health"), "http://h:1/health");
        assert_eq!(display_url("not a url"), "not a url");
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(duration_text(ms(200)), "200ms");
        assert_eq!(duration_text(ms(2000)), "2s");
        assert_eq!(duration_text(ms(1500)), "1.5s");
        assert_eq!(duration_text(ms(90_000)), "1m30s");
        assert_eq!(duration_text(ms(3_600_000)), "1h");
    }

    #[test]
    fn default_timeout() {
        let hc = HealthCheck {
            path: "/h".into(),
            interval: None,
            timeout: None,
        };
        assert_eq!(timeout(&hc), DEFAULT_TIMEOUT);
    }
}
