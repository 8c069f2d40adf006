//! Integration tests: the real `orch` binary on real files, one test binary.

// Test code: a failed unwrap is a failed test, and tests may say why they
// skip something on stderr.
#![allow(clippy::unwrap_used, clippy::print_stderr, clippy::print_stdout)]

mod common;

mod approvals;
mod architecture;
mod argo;
mod cache;
mod children;
mod cli;
mod diagnostics;
mod examples;
mod expressions;
mod fuzz;
mod generated;
mod github;
mod history_store;
mod http;
mod http_cache;
mod init;
mod inspect;
mod junit;
mod masking;
mod matrix;
mod metrics;
mod middleware;
mod orch_env;
mod orphans;
mod output;
mod redirects;
mod report;
mod reporting;
mod resume;
mod run;
mod saga;
mod schedule;
mod schema;
mod secrets;
mod services;
mod timeline;
mod tty;
mod validate_json;
mod watch;
mod webhook;
