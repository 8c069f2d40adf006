//! The service registry of orchestration.yaml: routing, auth, rate limits, circuit breakers, health.
