//! One file per subcommand. Each returns the exit status it wants.

pub mod approve;
pub mod cache;
pub mod completions;
pub mod graph;
pub mod history;
pub mod logs;
pub mod plan;
pub mod resume;
pub mod run;
pub mod secret;
pub mod services;
pub mod show;
pub mod stats;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::Cli;
use crate::error::Error;
use crate::model::Workflow;
use crate::settings::{EnvVars, Project, RunFlags, RunSettings};

/// What every command gets: parsed flags, the environment, the working directory.
pub struct Context {
    pub env: EnvVars,
    pub cwd: PathBuf,
    pub color: bool,
    pub quiet: bool,
    pub verbose: u8,
    pub config: Option<PathBuf>,
}

impl Context {
    /// The one place the process environment is read.
    pub fn new(cli: &Cli) -> Self {
        let env = EnvVars::capture();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let color = crate::settings::color(cli.color, &env);
        Context {
            env,
            cwd,
            color,
            quiet: cli.quiet,
            verbose: cli.verbose,
            config: cli.config.clone(),
        }
    }

    pub fn style(&self) -> crate::render::Style {
        crate::render::Style::for_stderr(self.color, self.env.github_actions)
    }

    /// `ORCH_HOME` (or the platform data dir).
    pub fn home(&self) -> Result<crate::history::Home, Error> {
        crate::history::Home::locate(self.env.orch_home.as_deref(), self.env.history.as_deref())
            .map_err(Error::environment)
    }

    pub fn project(&self) -> Result<Project, Error> {
        Ok(Project::load(self.config.as_deref(), &self.cwd)?)
    }

    /// What `run` and `plan` both need: the project, the validated workflow
    /// and its checked inputs.
    pub fn prepare(&self, target: &crate::cli::Target) -> Result<Prepared, Error> {
        let project = self.project()?;
        let wf = self.workflow(&project, &target.file)?;
        let inputs = crate::inputs::resolve(
            &wf,
            &target.inputs.inputs,
            target.inputs.input_file.as_deref(),
        )?;
        Ok(Prepared {
            project,
            wf,
            inputs,
        })
    }

    /// The settings of a run of `wf` (`orch run`, `orch resume`).
    pub(crate) fn run_settings(
        &self,
        exec: &crate::cli::ExecArgs,
        jobs: Option<u32>,
        project: &Project,
        wf: &Workflow,
    ) -> Result<RunSettings, Error> {
        let flags = RunFlags {
            exec,
            jobs,
            color: self.color,
            quiet: self.quiet,
            verbose: self.verbose,
        };
        Ok(RunSettings::resolve(flags, &self.env, project, wf)?)
    }

    /// Find, read and validate one workflow.
    pub fn workflow(&self, project: &Project, arg: &str) -> Result<Arc<Workflow>, Error> {
        let path = project.find_workflow(arg, &self.cwd)?;
        load_workflow(&path, project)
    }
}

pub struct Prepared {
    pub project: Project,
    pub wf: Arc<Workflow>,
    pub inputs: serde_json::Value,
}

pub fn load_workflow(path: &Path, project: &Project) -> Result<Arc<Workflow>, Error> {
    let src = crate::load::read_source(path)?;
    Ok(Arc::new(crate::validate::workflow_source(
        &src,
        &project.config,
    )?))
}
