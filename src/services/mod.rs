//! The service registry of orchestration.yaml: routing, auth, rate limits,
//! circuit breakers, health, policies. The engine asks [`Runtime`] which
//! services may answer a `call` and reports back how each request went.

pub mod auth;
pub mod breaker;
pub mod health;
pub mod policy;
pub mod ratelimit;
pub mod registry;

pub use breaker::{BreakerState, BreakerStore, Breakers};
pub use registry::Runtime;
