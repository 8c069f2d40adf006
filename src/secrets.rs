//! Secrets: `ORCH_SECRET_<NAME>`, then the OS keyring.
