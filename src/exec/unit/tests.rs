//! The attempt loop without the binary: retry × fallback × breaker ×
//! policy, with a scripted executor where the loop alone is under test and
//! a real 127.0.0.1 server (`orch-testserver`) where HTTP is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use orch_testserver::TestServer;
use serde_json::{json, Map, Value as Json};

use super::*;
use crate::cancel::{self, Canceller};
use crate::event::Verdict;
use crate::steps::approval::{ApprovalRequest, DecisionFuture, NoApprover};
use crate::steps::{AttemptFuture, CallSite};

#[derive(Default)]
struct Recorder(Mutex<Vec<EventKind>>);

impl Sink for Recorder {
    fn event(&self, ev: &Event) {
        self.0.lock().unwrap().push(ev.kind.clone());
    }
}

/// Always decides the same.
struct Fixed(Decision);

impl Approver for Fixed {
    fn decide(&self, _req: ApprovalRequest) -> DecisionFuture {
        let d = self.0.clone();
        Box::pin(async move { d })
    }
}

struct Fixture {
    wf: Arc<Workflow>,
    cfg: Arc<Config>,
    services: Option<Arc<Runtime>>,
    sink: Arc<Recorder>,
    approver: Arc<dyn Approver>,
    _canceller: Canceller,
    cancel: CancelWatch,
}

impl Fixture {
    fn new(config: &str, workflow: &str) -> Fixture {
        let src = Arc::new(crate::source::Source::new("o.yaml", "o.yaml", config));
        let cfg = Arc::new(crate::validate::config::config(&src).expect("config"));
        let src = Arc::new(crate::source::Source::new("w.yaml", "w.yaml", workflow));
        let wf = Arc::new(crate::validate::workflow_source(&src, &cfg).expect("workflow"));
        let services = Some(Arc::new(
            Runtime::new(cfg.clone(), None, None, Default::default()).expect("client"),
        ));
        let (canceller, cancel) = cancel::channel();
        Fixture {
            wf,
            cfg,
            services,
            sink: Arc::new(Recorder::default()),
            approver: Arc::new(NoApprover),
            _canceller: canceller,
            cancel,
        }
    }

    fn approver(mut self, d: Decision) -> Fixture {
        self.approver = Arc::new(Fixed(d));
        self
    }

    fn unit(&self, id: &str) -> UnitCtx {
        let step = self.wf.steps.iter().position(|s| s.id == id).expect("step");
        UnitCtx {
            wf: self.wf.clone(),
            step,
            item: None,
            views: HashMap::new(),
            inputs: Arc::new(json!({})),
            env_ctx: Arc::new(json!({})),
            run_ctx: Arc::new(json!({"id": "r", "workflow": self.wf.name, "attempt": 1})),
            base_env: Arc::new(Vec::new()),
            project_dir: std::env::temp_dir(),
            scratch_dir: std::env::temp_dir(),
            grace: Duration::from_secs(1),
            cancel: self.cancel.clone(),
            sink: self.sink.clone(),
            run_id: Arc::from("01J0000000000000000000TEST"),
            workflow: Arc::from(self.wf.name.as_str()),
            cache: None,
            approver: self.approver.clone(),
            cfg: self.cfg.clone(),
            services: self.services.clone(),
            secrets: Arc::new(crate::secrets::Secrets::env_only(Vec::new())),
            masker: Arc::new(crate::mask::Masker::new()),
            secret_values: HashMap::new(),
            missing_credentials: HashMap::new(),
            children: None,
            resume_child: None,
            compensation: false,
            gate: None,
        }
    }

    /// Run step `id` through the whole unit: resolve, policies, attempts.
    async fn run(&self, id: &str) -> UnitResult {
        execute(self.unit(id)).await
    }

    /// Run step `id` with a scripted executor in place of its kind's; also
    /// returns the `(attempt, route)` of every attempt it was asked for.
    async fn run_with(&self, id: &str, answer: Answer) -> (UnitResult, Seen) {
        let ctx = self.unit(id);
        let retry = retry_spec(&ctx);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let body: prepare::Resolved = Box::new(Fake {
            target: CallTarget::Capability("summarize".into()),
            answer,
            seen: seen.clone(),
        });
        let r = drive(&ctx, &body, &retry, Instant::now()).await;
        let seen = seen.lock().unwrap().clone();
        (r, seen)
    }

    fn events(&self) -> Vec<EventKind> {
        self.sink.0.lock().unwrap().clone()
    }

    /// `(attempt, error, delay)` of every `step.retrying`.
    fn retries(&self) -> Vec<(u32, String, Duration)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                EventKind::StepRetrying {
                    attempt,
                    error,
                    delay,
                    ..
                } => Some((attempt, error, delay)),
                _ => None,
            })
            .collect()
    }

    /// `(attempt, max_attempts)` of every `step.started`.
    fn starts(&self) -> Vec<(Option<u32>, Option<u32>)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                EventKind::StepStarted {
                    attempt,
                    max_attempts,
                    ..
                } => Some((attempt, max_attempts)),
                _ => None,
            })
            .collect()
    }
}

/// How the scripted executor answers attempt `n` to `route`.
type Answer = fn(route: Option<&str>, n: u32) -> Attempt;

/// The `(attempt, route)` of every attempt the scripted executor was asked for.
type Seen = Vec<(u32, Option<String>)>;

/// A scripted executor: a `call` to capability `summarize` whose attempts
/// answer as told, and remember what they were asked.
#[derive(Debug)]
struct Fake {
    target: CallTarget,
    answer: Answer,
    seen: Arc<Mutex<Seen>>,
}

impl Body for Fake {
    fn definition(&self, _def: &mut Map<String, Json>, _project_dir: &std::path::Path) {}

    fn call(&self) -> Option<CallSite<'_>> {
        Some(CallSite {
            target: &self.target,
            endpoint: "summarize",
        })
    }

    fn attempt<'a>(&'a self, cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        self.seen
            .lock()
            .unwrap()
            .push((cx.attempt, cx.route.map(str::to_string)));
        let a = (self.answer)(cx.route, cx.attempt);
        Box::pin(async move { a })
    }
}

fn unavailable() -> Attempt {
    Attempt {
        http_status: Some(503),
        retryable: true,
        ..Attempt::failed(ErrorKind::HttpStatus, "HTTP 503")
    }
}

/// Two services with capability `summarize`, tried primary first.
fn two_services(fallback: bool, primary_extra: &str) -> String {
    format!(
        "orchestration:
  policies:
    fallback_on_error: {fallback}
  services:
    - id: primary
      base_url: http://127.0.0.1:9
      capabilities: [summarize]
      priority: 1
{primary_extra}      endpoints: [ {{ id: summarize, method: POST, path: /status/503 }} ]
    - id: secondary
      base_url: http://127.0.0.1:9
      capabilities: [summarize]
      priority: 2
      endpoints: [ {{ id: summarize, method: POST, path: /echo/secondary }} ]
"
    )
}

const CALL: &str = "name: call
steps:
  - id: sum
    retry: { max_attempts: 2, base_delay_ms: 0 }
    call: { capability: summarize, endpoint: summarize }
";

fn route(r: &str) -> Option<String> {
    Some(r.to_string())
}

#[tokio::test]
async fn a_failing_route_is_retried_then_falls_over_with_fallback_on_error() {
    let f = Fixture::new(&two_services(true, ""), CALL);
    let (r, seen) = f
        .run_with("sum", |route, _| match route {
            Some("primary") => unavailable(),
            _ => Attempt::ok(),
        })
        .await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!(r.attempts, 3);
    assert_eq!(
        seen,
        [
            (1, route("primary")),
            (2, route("primary")),
            (3, route("secondary"))
        ]
    );
    assert_eq!(f.starts(), [(Some(1), Some(4))]);
    let errors: Vec<_> = f.retries().into_iter().map(|(n, e, _)| (n, e)).collect();
    assert_eq!(
        errors,
        [
            (2, "HTTP 503".to_string()),
            (3, "HTTP 503; trying service `secondary`".to_string())
        ]
    );
}

#[tokio::test]
async fn without_fallback_on_error_the_first_route_decides() {
    let f = Fixture::new(&two_services(false, ""), CALL);
    let (r, seen) = f
        .run_with("sum", |route, _| match route {
            Some("primary") => unavailable(),
            _ => Attempt::ok(),
        })
        .await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.attempts, 2);
    assert_eq!(r.error.as_deref(), Some("HTTP 503"));
    assert_eq!(r.http_status, Some(503));
    assert_eq!(seen, [(1, route("primary")), (2, route("primary"))]);
}

#[tokio::test]
async fn a_refused_route_is_not_retried_and_falls_over_whatever_the_policy() {
    let f = Fixture::new(&two_services(false, ""), CALL);
    let (r, seen) = f
        .run_with("sum", |route, _| match route {
            Some("primary") => Attempt {
                refused: true,
                ..Attempt::failed(ErrorKind::Connect, "breaker open")
            },
            _ => Attempt::ok(),
        })
        .await;
    assert_eq!(r.status, Status::Succeeded);
    assert_eq!(seen, [(1, route("primary")), (2, route("secondary"))]);
}

#[tokio::test]
async fn a_wrong_definition_is_neither_retried_nor_falls_over() {
    let f = Fixture::new(&two_services(true, ""), CALL);
    let (r, seen) = f
        .run_with("sum", |_, _| {
            Attempt::failed(ErrorKind::Expression, "no endpoint")
        })
        .await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_deref(), Some("no endpoint"));
    assert_eq!(seen, [(1, route("primary"))]);
}

#[tokio::test]
async fn a_cancelled_attempt_ends_the_unit() {
    let f = Fixture::new(&two_services(true, ""), CALL);
    let (r, seen) = f
        .run_with("sum", |_, _| {
            Attempt::failed(ErrorKind::Cancelled, "cancelled")
        })
        .await;
    assert_eq!(r.status, Status::Cancelled);
    assert_eq!(r.attempts, 1);
    assert_eq!(seen.len(), 1);
    assert!(f.retries().is_empty());
}

#[tokio::test]
async fn retry_condition_sees_error_kind_status_and_attempt() {
    let wf = "name: call
steps:
  - id: sum
    retry:
      max_attempts: 5
      base_delay_ms: 0
      condition: ${{ error.kind == 'http_status' && error.status == 503 && error.attempt < 3 }}
    call: { capability: sum, endpoint: summarize }
"
    .replace("capability: sum,", "capability: summarize,");
    let f = Fixture::new(&two_services(false, ""), &wf);
    let (r, seen) = f.run_with("sum", |_, _| unavailable()).await;
    assert_eq!(r.status, Status::Failed);
    // Retried after attempts 1 and 2; the condition is false after 3.
    assert_eq!(seen.len(), 3);
    // Another kind does not match the condition: no retry at all.
    let f = Fixture::new(&two_services(false, ""), &wf);
    let (_, seen) = f
        .run_with("sum", |_, _| Attempt::failed(ErrorKind::Timeout, "slow"))
        .await;
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn an_open_breaker_is_skipped_without_a_request() {
    let srv = TestServer::start();
    let cfg = two_services(
        false,
        "      circuit_breaker: { failure_threshold: 1, reset_timeout: 1m }\n",
    )
    .replace("http://127.0.0.1:9", &srv.base_url());
    let f = Fixture::new(&cfg, CALL);
    let rt = f.services.as_ref().unwrap();
    rt.breakers.record("primary", false, SystemTime::now());
    let r = f.run("sum").await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!(r.attempts, 1);
    assert_eq!(r.extra["service"], "secondary");
    assert_eq!(srv.count("/status/503"), 0);
    assert_eq!(srv.count("/echo/secondary"), 1);
    // Only the secondary's attempts are announced.
    assert_eq!(f.starts(), [(Some(1), Some(2))]);
}

#[tokio::test]
async fn every_breaker_open_fails_without_an_attempt() {
    let srv = TestServer::start();
    let cfg = format!(
        "orchestration:
  services:
    - id: only
      base_url: {}
      capabilities: [summarize]
      circuit_breaker: {{ failure_threshold: 1, reset_timeout: 1m }}
      endpoints: [ {{ id: summarize, path: /ok }} ]
",
        srv.base_url()
    );
    let f = Fixture::new(&cfg, CALL);
    let rt = f.services.as_ref().unwrap();
    rt.breakers.record("only", false, SystemTime::now());
    let r = f.run("sum").await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.attempts, 0);
    assert_eq!(
        r.error.as_deref(),
        Some("the circuit breaker of service `only` is open: not calling it")
    );
    assert_eq!(srv.count("/ok"), 0);
}

fn http_step(srv: &TestServer, path: &str, retry: &str) -> String {
    format!(
        "name: h
steps:
  - id: get
    retry: {retry}
    http: {{ url: \"{}\" }}
",
        srv.url(path)
    )
}

#[tokio::test]
async fn retry_after_lengthens_the_delay_up_to_max_delay() {
    let srv = TestServer::start();
    let wf = http_step(
        &srv,
        "/retry-after/k?secs=5&fail=1",
        "{ max_attempts: 2, base_delay_ms: 1, max_delay: 50ms, jitter: false }",
    );
    let f = Fixture::new("orchestration: {}\n", &wf);
    let r = f.run("get").await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!(r.attempts, 2);
    let retries = f.retries();
    assert_eq!(retries.len(), 1);
    // The server asked for 5 s; max_delay caps it.
    assert_eq!(retries[0].2, Duration::from_millis(50));
}

#[tokio::test]
async fn http_failures_reach_the_retry_condition() {
    let srv = TestServer::start();
    let cond =
        |c: &str| format!("{{ max_attempts: 3, base_delay_ms: 0, condition: \"${{{{ {c} }}}}\" }}");
    let wf = http_step(
        &srv,
        "/status/500",
        &cond("error.kind == 'http_status' && error.status == 500"),
    );
    let r = Fixture::new("orchestration: {}\n", &wf).run("get").await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!((r.attempts, r.http_status), (3, Some(500)));
    assert_eq!(srv.count("/status/500"), 3);
    let wf = http_step(&srv, "/status/404", &cond("error.status == 500"));
    let r = Fixture::new("orchestration: {}\n", &wf).run("get").await;
    assert_eq!(r.attempts, 1);
    assert_eq!(srv.count("/status/404"), 1);
}

const POLICIES: &str = "orchestration:
  policies:
    rules:
      - id: no-http
        when: ${{ step.kind == 'http' && step.id == 'denied' }}
        action: deny
        message: no requests from here
      - id: review
        when: ${{ step.id == 'reviewed' }}
        action: require_approval
        message: Look first
";

fn policy_workflow(srv: &TestServer) -> String {
    format!(
        "name: p
steps:
  - {{ id: denied, http: {{ url: \"{ok}\" }} }}
  - {{ id: reviewed, http: {{ url: \"{ok}\" }} }}
",
        ok = srv.url("/ok")
    )
}

#[tokio::test]
async fn a_deny_policy_fails_before_anything_runs() {
    let srv = TestServer::start();
    let f = Fixture::new(POLICIES, &policy_workflow(&srv));
    let r = f.run("denied").await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(
        r.error.as_deref(),
        Some("denied by policy rule `no-http`: no requests from here")
    );
    assert_eq!(srv.count("/ok"), 0);
    // Announced as its first attempt of the kind's default retry.
    assert_eq!(f.starts(), [(Some(1), Some(3))]);
}

#[tokio::test]
async fn require_approval_waits_when_nobody_answers() {
    let srv = TestServer::start();
    let f = Fixture::new(POLICIES, &policy_workflow(&srv));
    let r = f.run("reviewed").await;
    assert_eq!(r.status, Status::Waiting);
    assert_eq!((r.attempts, r.error), (0, None));
    assert_eq!(srv.count("/ok"), 0);
    assert!(f.starts().is_empty());
    assert!(matches!(
        &f.events()[..],
        [EventKind::ApprovalRequested { message, timeout: None, .. }] if message == "Look first"
    ));
}

#[tokio::test]
async fn require_approval_runs_once_approved_and_fails_when_rejected() {
    let srv = TestServer::start();
    let approved = Decision::Approved {
        by: "ann".into(),
        comment: None,
    };
    let f = Fixture::new(POLICIES, &policy_workflow(&srv)).approver(approved);
    let r = f.run("reviewed").await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!(srv.count("/ok"), 1);
    assert!(f.events().iter().any(|e| matches!(
        e,
        EventKind::ApprovalDecided { verdict: Verdict::Approved { by, .. }, .. } if by == "ann"
    )));

    let rejected = Decision::Rejected {
        by: "bob".into(),
        comment: Some("not now".into()),
    };
    let f = Fixture::new(POLICIES, &policy_workflow(&srv)).approver(rejected);
    let r = f.run("reviewed").await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_deref(), Some("rejected by bob: not now"));
    assert_eq!(srv.count("/ok"), 1);
}

const APPROVAL: &str = "name: a
steps:
  - id: gate
    approval: { message: Ship it?, timeout: 1h }
";

#[tokio::test]
async fn an_approval_step_is_asked_once() {
    let f = Fixture::new("orchestration: {}\n", APPROVAL);
    let r = f.run("gate").await;
    assert_eq!(r.status, Status::Waiting);
    assert!(f.starts().is_empty());

    let approved = Decision::Approved {
        by: "ann".into(),
        comment: Some("go".into()),
    };
    let f = Fixture::new("orchestration: {}\n", APPROVAL).approver(approved);
    let r = f.run("gate").await;
    assert_eq!(r.status, Status::Succeeded);
    assert_eq!(r.extra["approved_by"], "ann");
    assert_eq!(r.extra["comment"], "go");
    // Announced after the decision, as its only attempt.
    assert_eq!(f.starts(), [(Some(1), Some(1))]);

    let f = Fixture::new("orchestration: {}\n", APPROVAL).approver(Decision::TimedOut);
    let r = f.run("gate").await;
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.error.as_deref(), Some("the approval timed out after 1h"));
}

#[tokio::test]
async fn outputs_see_the_steps_own_results() {
    let wf = "name: t
steps:
  - id: calc
    transform: { x: '${{ 2 }}' }
    outputs: { y: '${{ steps.calc.outputs.x + 1 }}' }
  - id: bad
    transform: { x: '${{ 2 }}' }
    outputs: { y: '${{ steps.bad.outputs.nope + 1 }}' }
";
    let f = Fixture::new("orchestration: {}\n", wf);
    let r = f.run("calc").await;
    assert_eq!(r.status, Status::Succeeded, "{:?}", r.error);
    assert_eq!(Json::Object(r.outputs), json!({"x": 2, "y": 3}));
    let r = f.run("bad").await;
    assert_eq!(r.status, Status::Failed);
    assert!(r.error.unwrap().starts_with("output `y`: "));
}
