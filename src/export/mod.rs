//! Compilers from a validated workflow to other engines' formats.

pub(crate) mod argo;
