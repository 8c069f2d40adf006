//! `telemetry.metrics_endpoint`: a finished run's metrics PUT to a
//! Prometheus Pushgateway (`<endpoint>/metrics/job/orch/workflow/<name>`),
//! replacing that workflow's group. Tried three times within a deadline;
//! a failure is a message for the caller to warn with, never an error of
//! the run.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Url;

use super::metrics::CONTENT_TYPE;

/// All tries together never take longer than this.
pub(crate) const DEADLINE: Duration = Duration::from_secs(2);
/// Tries after the first.
const RETRIES: u32 = 2;
const PAUSE: Duration = Duration::from_millis(100);

/// The group URL of `workflow` under `endpoint`. An endpoint that already
/// ends in `/metrics` (the spelling of the spec's example) is not given a
/// second one; any other path is kept as a prefix (a gateway behind a
/// proxy). A name with a `/` uses the Pushgateway's base64 form.
pub(crate) fn group_url(endpoint: &str, workflow: &str) -> Result<Url, String> {
    let mut u = Url::parse(endpoint.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| "telemetry.metrics_endpoint is not an http(s) URL".to_string())?;
    let base = u.path().trim_end_matches('/').to_string();
    let base = base.strip_suffix("/metrics").unwrap_or(&base);
    let label = if workflow.contains('/') || workflow.is_empty() {
        let b64 = base64::engine::general_purpose::URL_SAFE.encode(workflow);
        format!(
            "workflow@base64/{}",
            if b64.is_empty() { "=".into() } else { b64 }
        )
    } else {
        format!(
            "workflow/{}",
            percent_encoding::utf8_percent_encode(workflow, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    u.set_path(&format!("{base}/metrics/job/orch/{label}"));
    u.set_query(None);
    u.set_fragment(None);
    Ok(u)
}

/// `scheme://host:port`: the endpoint as a warning names it (no
/// credentials, no path).
pub(crate) fn shown(u: &Url) -> String {
    let host = u.host_str().unwrap_or("");
    match u.port_or_known_default() {
        Some(p) => format!("{}://{host}:{p}", u.scheme()),
        None => format!("{}://{host}", u.scheme()),
    }
}

/// PUT `body` to the group of `workflow`; why not, if it did not go.
pub(crate) async fn push(endpoint: &str, workflow: &str, body: String) -> Result<(), String> {
    let url = group_url(endpoint, workflow)?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("orch/", env!("CARGO_PKG_VERSION")))
        .timeout(DEADLINE)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let tries = async {
        let mut last = String::new();
        for i in 0..=RETRIES {
            if i > 0 {
                tokio::time::sleep(PAUSE).await;
            }
            let sent = client
                .put(url.clone())
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return Ok(()),
                // The gateway refused these metrics: asking again changes nothing.
                Ok(r) if r.status().is_client_error() => {
                    return Err(format!("the gateway answered {}", r.status()))
                }
                Ok(r) => last = format!("the gateway answered {}", r.status()),
                Err(e) if e.is_timeout() => last = "no answer in time".into(),
                Err(e) if e.is_connect() => last = "cannot connect".into(),
                Err(_) => last = "the request failed".into(),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(DEADLINE, tries).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}s", DEADLINE.as_secs())),
    }
    .map_err(|why| format!("{why} ({})", shown(&url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_urls() {
        let g = |e: &str, w: &str| group_url(e, w).unwrap().to_string();
        assert_eq!(
            g("http://gw:9091", "build"),
            "http://gw:9091/metrics/job/orch/workflow/build"
        );
        assert_eq!(
            g("http://gw:9091/metrics/", "build"),
            "http://gw:9091/metrics/job/orch/workflow/build"
        );
        assert_eq!(
            g("https://proxy/pg?x=1", "a b"),
            "https://proxy/pg/metrics/job/orch/workflow/a%20b"
        );
        assert_eq!(
            g("http://gw:9091", "a/b"),
            "http://gw:9091/metrics/job/orch/workflow@base64/YS9i"
        );
        assert!(group_url("gw:9091", "x").is_err());
        assert_eq!(
            shown(&group_url("http://u:secret@gw:9091", "x").unwrap()),
            "http://gw:9091"
        );
    }
}
