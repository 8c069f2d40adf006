//! `orch resume`: finished steps keep their results, the rest run.
