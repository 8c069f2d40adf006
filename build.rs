//! Links the `orch` binary as a position-dependent executable on Linux.
//!
//! A position-independent one starts by having the dynamic loader patch
//! 74,000 pointers (1.7 MB of tables: clap's, CEL's time zones, the
//! formatting vtables), a millisecond of every `orch` command, a third of
//! `orch --version`. Fixed at link time, they are read from the file as
//! they are. The objects are still compiled position-independent; only the
//! executable's load address is fixed (the libraries it loads still move).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
