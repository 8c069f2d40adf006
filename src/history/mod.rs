//! Durable run history: `ORCH_HOME/history.db` (SQLite) and
//! `ORCH_HOME/logs/<run>/<step>.log`. The engine never sees this module;
//! [`writer::HistorySink`] receives its events like any other sink.

pub mod breakers;
pub mod cache;
pub mod lock;
pub mod query;
pub mod schema;
pub mod store;
pub mod transition;
pub mod writer;

pub use store::{Home, Store};
