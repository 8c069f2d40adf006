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

use crate::cli::{Cli, ColorChoice};
use crate::exit::Invalid;
use crate::model::Workflow;
use crate::settings::{EnvVars, Project};

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
    pub fn new(cli: &Cli) -> Self {
        let env = EnvVars::capture();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !env.no_color && console::Term::stderr().is_term(),
        };
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
    pub fn home(&self) -> Result<crate::history::Home, Invalid> {
        Ok(crate::history::Home::locate(
            self.env.orch_home.as_deref(),
            self.env.history.as_deref(),
        )?)
    }

    pub fn project(&self) -> Result<Project, Invalid> {
        Ok(Project::load(self.config.as_deref(), &self.cwd)?)
    }

    /// What `run` and `plan` both need: the project, the validated workflow,
    /// its checked inputs and the run's concurrency.
    pub fn prepare(&self, target: &crate::cli::Target) -> Result<Prepared, Invalid> {
        let project = self.project()?;
        let wf = self.workflow(&project, &target.file)?;
        let inputs = crate::inputs::resolve(
            &wf,
            &target.inputs.inputs,
            target.inputs.input_file.as_deref(),
        )?;
        let concurrency =
            crate::settings::concurrency(target.jobs, &wf, &project.config, &self.env)?;
        Ok(Prepared {
            project,
            wf,
            inputs,
            concurrency,
        })
    }

    /// Find, read and validate one workflow.
    pub fn workflow(&self, project: &Project, arg: &str) -> Result<Arc<Workflow>, Invalid> {
        let path = project.find_workflow(arg, &self.cwd)?;
        load_workflow(&path, project)
    }
}

pub struct Prepared {
    pub project: Project,
    pub wf: Arc<Workflow>,
    pub inputs: serde_json::Value,
    pub concurrency: usize,
}

pub fn load_workflow(path: &Path, project: &Project) -> Result<Arc<Workflow>, Invalid> {
    let src = crate::load::read_source(path)?;
    Ok(Arc::new(crate::validate::workflow_source(
        &src,
        &project.config,
    )?))
}
