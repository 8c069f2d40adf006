//! orch: a local-first workflow orchestrator.

pub mod diag;
pub mod expr;
pub mod load;
pub mod model;
pub mod source;
pub mod plan;
pub mod validate;
