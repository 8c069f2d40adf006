//! `orch history`, `show`, `logs`, `stats`, `history prune`, `cache clear`
//! on real recorded runs.
