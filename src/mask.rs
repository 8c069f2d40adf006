//! Secret masking: every byte orch writes passes through here.
