//! `http` steps: the transport lives in [`crate::http_client`], a leaf that
//! `services` uses too; re-exported here under its old path.

pub use crate::http_client::*;
