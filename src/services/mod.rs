//! The service registry of orchestration.yaml: routing, auth, rate limits,
//! circuit breakers, health, policies. The engine asks [`Runtime`] which
//! services may answer a `call` and reports back how each request went.

pub(crate) mod auth;
pub(crate) mod breaker;
pub(crate) mod health;
pub(crate) mod http_cache;
pub(crate) mod policy;
pub(crate) mod ratelimit;
pub(crate) mod registry;

pub(crate) use breaker::BreakerStore;
pub(crate) use registry::Runtime;
