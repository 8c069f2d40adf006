//! Durable run history: `ORCH_HOME/history.db` (SQLite) and
//! `ORCH_HOME/logs/<run>/<step>.log`. The engine never sees this module;
//! [`writer::HistorySink`] receives its events like any other sink.
//!
//! The connection never leaves this module: commands call [`Store`]
//! methods, and errors leave it as [`HistoryError`], a diagnostic at the edge.

pub(crate) mod breakers;
pub(crate) mod cache;
pub(crate) mod compensations;
pub(crate) mod error;
pub(crate) mod home;
pub(crate) mod http_cache;
pub(crate) mod leftovers;
pub(crate) mod lock;
pub(crate) mod metrics;
pub(crate) mod query;
mod record;
pub(crate) mod report;
pub(crate) mod runs;
pub(crate) mod schema;
pub(crate) mod stats;
pub(crate) mod status;
mod step_logs;
pub(crate) mod store;
pub(crate) mod timeline;
pub(crate) mod transition;
pub(crate) mod writer;

pub(crate) use error::HistoryError;
pub(crate) use home::Home;
pub(crate) use status::ShownStatus;
pub(crate) use store::Store;
