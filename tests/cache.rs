//! The step cache: hits, misses on source changes, `--no-cache`, `orch plan`.
