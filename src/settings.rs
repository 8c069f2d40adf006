//! Everything outside the workflow file that decides how a command behaves:
//! environment variables, `orchestration.yaml`, the project directory.
//! Read once here; nothing after this reads `std::env`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diag;
use crate::model::{Config, Workflow};

/// The environment variables orch itself reads, captured once.
#[derive(Debug, Clone, Default)]
pub struct EnvVars {
    pub no_color: bool,
    pub ci: bool,
    pub github_actions: bool,
    pub default_max_parallel: Option<String>,
    pub max_concurrency: Option<String>,
    pub orch_home: Option<String>,
    /// `ORCH_HISTORY=memory`: keep history in memory (for benchmarks).
    pub history: Option<String>,
    pub cache_max: Option<String>,
    /// `ORCHESTRATION_PROGRESS_WEBHOOK_URL`.
    pub webhook_url: Option<String>,
    /// All of orch's environment, passed on to steps.
    pub all: Vec<(String, String)>,
}

impl EnvVars {
    pub fn capture() -> Self {
        let all: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let get = |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        EnvVars {
            no_color: get("NO_COLOR").is_some_and(|v| !v.is_empty()),
            ci: get("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0"),
            github_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            default_max_parallel: get("ORCHESTRATION_DEFAULT_MAX_PARALLEL"),
            max_concurrency: get("ORCHESTRATION_MAX_CONCURRENCY"),
            orch_home: get("ORCH_HOME"),
            history: get("ORCH_HISTORY"),
            cache_max: get("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS"),
            webhook_url: get("ORCHESTRATION_PROGRESS_WEBHOOK_URL").filter(|v| !v.is_empty()),
            all,
        }
    }
}

/// The loaded `orchestration.yaml` (or defaults) and where steps run.
pub struct Project {
    pub config: Arc<Config>,
    /// The config's directory, or the working directory when there is none.
    pub dir: PathBuf,
    pub config_path: Option<PathBuf>,
}

impl Project {
    /// `--config`/`ORCH_CONFIG`, else `orchestration.yaml` found upward from `cwd`.
    pub fn load(explicit: Option<&Path>, cwd: &Path) -> Result<Project, Vec<Diag>> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => crate::load::discover_config(cwd),
        };
        let Some(path) = path else {
            return Ok(Project {
                config: Arc::new(Config::default()),
                dir: cwd.to_path_buf(),
                config_path: None,
            });
        };
        let src = crate::load::read_source(&display_path(&path, cwd)).map_err(|d| vec![d])?;
        let config = crate::validate::config::config(&src)?;
        let dir = absolute(path.parent().unwrap_or(Path::new(".")), cwd);
        Ok(Project {
            config: Arc::new(config),
            dir,
            config_path: Some(path),
        })
    }

    /// A path, or a NAME for `workflows/NAME.yaml` beside `orchestration.yaml`.
    pub fn find_workflow(&self, arg: &str, cwd: &Path) -> Result<PathBuf, Diag> {
        let direct = Path::new(arg);
        if direct.exists() {
            return Ok(direct.to_path_buf());
        }
        let looks_like_name =
            !arg.contains('/') && !arg.ends_with(".yaml") && !arg.ends_with(".yml");
        if looks_like_name {
            for ext in ["yaml", "yml"] {
                let candidate = self.dir.join("workflows").join(format!("{arg}.{ext}"));
                if candidate.is_file() {
                    return Ok(relative_to(&candidate, cwd));
                }
            }
            let mut d = Diag::new("io", format!("no workflow file or name `{arg}`"));
            let listed = self.workflow_names();
            d = match crate::diag::did_you_mean(arg, listed.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if listed.is_empty() => d.help(format!(
                    "looked for {}/workflows/{arg}.yaml",
                    self.dir.display()
                )),
                None => d.help(format!("workflows here: {}", listed.join(", "))),
            };
            return Err(d);
        }
        Ok(direct.to_path_buf())
    }

    fn workflow_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("workflows"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let ext = p.extension()?.to_str()?;
                (ext == "yaml" || ext == "yml")
                    .then(|| p.file_stem()?.to_str().map(str::to_string))?
            })
            .collect();
        names.sort();
        names
    }
}

/// `ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS`, default 2000.
pub fn cache_max(env: &EnvVars) -> Result<usize, Diag> {
    match env.cache_max.as_deref() {
        None => Ok(2000),
        Some(s) => s.trim().parse::<usize>().map_err(|_| {
            Diag::new(
                "env",
                format!("ORCHESTRATION_CACHE_MAX_STEP_OUTPUTS must be a whole number, got `{s}`"),
            )
        }),
    }
}

/// The run's concurrency: `-j`, then the workflow's `concurrency`, then
/// `policies.max_parallel_tasks`, then `ORCHESTRATION_DEFAULT_MAX_PARALLEL`,
/// else the CPU count; `ORCHESTRATION_MAX_CONCURRENCY` caps all of them.
pub fn concurrency(
    jobs: Option<u32>,
    wf: &Workflow,
    cfg: &Config,
    env: &EnvVars,
) -> Result<usize, Diag> {
    let parse = |name: &str, v: &Option<String>| -> Result<Option<usize>, Diag> {
        match v {
            None => Ok(None),
            Some(s) => match s.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(Diag::new(
                    "env",
                    format!("{name} must be a positive integer, got `{s}`"),
                )),
            },
        }
    };
    let default = parse(
        "ORCHESTRATION_DEFAULT_MAX_PARALLEL",
        &env.default_max_parallel,
    )?;
    let cap = parse("ORCHESTRATION_MAX_CONCURRENCY", &env.max_concurrency)?;
    let n = jobs
        .map(|j| j as usize)
        .or(wf.concurrency)
        .or(cfg.policies.max_parallel_tasks)
        .or(default)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
    Ok(cap.map_or(n, |c| n.min(c)).max(1))
}

fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    if p.as_os_str().is_empty() {
        cwd.to_path_buf()
    } else if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Show paths under the working directory relative to it.
fn relative_to(p: &Path, cwd: &Path) -> PathBuf {
    p.strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

fn display_path(p: &Path, cwd: &Path) -> PathBuf {
    relative_to(p, cwd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(concurrency: Option<usize>) -> Workflow {
        let src = Arc::new(crate::source::Source::new(
            "w",
            "w",
            "name: w\nsteps: [{id: a, run: x}]\n",
        ));
        let mut w = crate::validate::workflow_source(&src, &Config::default()).unwrap();
        w.concurrency = concurrency;
        w
    }

    #[test]
    fn concurrency_precedence() {
        let mut cfg = Config::default();
        let mut env = EnvVars::default();
        assert_eq!(concurrency(Some(3), &wf(Some(5)), &cfg, &env).unwrap(), 3);
        assert_eq!(concurrency(None, &wf(Some(5)), &cfg, &env).unwrap(), 5);
        cfg.policies.max_parallel_tasks = Some(7);
        assert_eq!(concurrency(None, &wf(None), &cfg, &env).unwrap(), 7);
        cfg.policies.max_parallel_tasks = None;
        env.default_max_parallel = Some("9".into());
        assert_eq!(concurrency(None, &wf(None), &cfg, &env).unwrap(), 9);
        env.max_concurrency = Some("2".into());
        assert_eq!(concurrency(Some(8), &wf(None), &cfg, &env).unwrap(), 2);
        env.max_concurrency = Some("zero".into());
        assert!(concurrency(None, &wf(None), &cfg, &env).is_err());
    }
}
