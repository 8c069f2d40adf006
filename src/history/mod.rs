//! Durable run history: `ORCH_HOME/history.db` (SQLite) and
//! `ORCH_HOME/logs/<run>/<step>.log`. The engine never sees this module;
//! [`writer::HistorySink`] receives its events like any other sink.
//!
//! The connection never leaves this module: commands call [`Store`]
//! methods, and errors leave it as [`HistoryError`], a diagnostic at the edge.

pub mod breakers;
pub mod cache;
pub mod error;
pub mod home;
pub mod lock;
pub mod query;
pub mod runs;
pub mod schema;
pub mod status;
pub mod store;
pub mod transition;
pub mod writer;

pub use error::HistoryError;
pub use home::Home;
pub use status::ShownStatus;
pub use store::Store;
