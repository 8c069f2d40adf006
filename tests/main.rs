//! Integration tests: the real `orch` binary on real files, one test binary.

mod common;

mod cli;
mod diagnostics;
mod examples;
mod generated;
mod run;
