//! The kernel's limits on what a new program gets (its arguments and
//! environment), checked before a step is spawned so that a value too large
//! fails with its name and size instead of "Argument list too long".

/// Linux's MAX_ARG_STRLEN: one argument or one `NAME=value`, with its NUL.
#[cfg(target_os = "linux")]
pub(crate) const MAX_ONE: Option<usize> = Some(32 * 4096);
#[cfg(not(target_os = "linux"))]
pub(crate) const MAX_ONE: Option<usize> = None;

const ADVICE: &str = "write large values to a file instead (the step that makes one can \
     name the file through ORCH_OUTPUT) and read that file in the script";

/// Why `env` or the script (`None` when it is not passed as an argument)
/// cannot be handed to a new program, if that is so.
pub(crate) fn check(env: &[(String, String)], script: Option<&str>) -> Option<String> {
    let max = MAX_ONE?;
    for (k, v) in env {
        let size = k.len() + 1 + v.len() + 1;
        if size > max {
            return Some(format!(
                "environment variable `{k}` is {size} bytes (as NAME=value), over the \
                 operating system's limit of {max} bytes for one variable; {ADVICE}"
            ));
        }
    }
    if let Some(s) = script.filter(|s| s.len() + 1 > max) {
        return Some(format!(
            "the script is {} bytes once its expressions are filled in, over the operating \
             system's limit of {max} bytes for one argument; {ADVICE}",
            s.len() + 1
        ));
    }
    None
}

/// The message for E2BIG from spawn: everything together is too large.
/// `env` is what the step adds to orch's own environment.
pub(crate) fn too_big(env: &[(String, String)], args: &[&str]) -> String {
    let mut all: std::collections::HashMap<String, usize> = std::env::vars_os()
        .map(|(k, v)| {
            let k = k.to_string_lossy().into_owned();
            let n = k.len() + v.len() + 2;
            (k, n)
        })
        .collect();
    for (k, v) in env {
        all.insert(k.clone(), k.len() + v.len() + 2);
    }
    let env_size: usize = all.values().sum();
    let arg_size: usize = args.iter().map(|a| a.len() + 1).sum();
    let limit = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .map(|n| format!(" (the limit is about {n} bytes)"))
        .unwrap_or_default();
    format!(
        "the environment plus the arguments are too large for the operating system: \
         {} bytes ({env_size} of environment, {arg_size} of arguments){limit}; {ADVICE}",
        env_size + arg_size
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn one_variable_over_the_limit_is_named_with_its_size() {
        let at = |n: usize| vec![("BIG".to_string(), "x".repeat(n))];
        // BIG= + value + NUL is exactly the limit: fine.
        assert_eq!(check(&at(131072 - 5), None), None);
        let msg = check(&at(131072 - 4), None).unwrap();
        assert!(msg.contains("`BIG` is 131073 bytes"), "{msg}");
        assert!(msg.contains("131072"), "{msg}");
        assert!(msg.contains("ORCH_OUTPUT"), "{msg}");
        let script = "y".repeat(200_000);
        assert!(check(&[], Some(&script))
            .unwrap()
            .contains("the script is 200001 bytes"));
    }
}
