//! One file per subcommand. Each returns the exit status it wants.

// Printing is what commands are for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub(crate) mod approve;
pub(crate) mod cache;
pub(crate) mod completions;
pub(crate) mod export;
pub(crate) mod graph;
pub(crate) mod history;
pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod man;
pub(crate) mod metrics;
pub(crate) mod plan;
pub(crate) mod report;
pub(crate) mod resume;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod secret;
pub(crate) mod services;
pub(crate) mod show;
pub(crate) mod stats;
mod timeline;
pub(crate) mod validate;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::Cli;
use crate::error::Error;
use crate::model::Workflow;
use crate::settings::{EnvVars, Project, RunFlags, RunSettings};

/// What every command gets: parsed flags, the environment, the working directory.
pub(crate) struct Context {
    pub(crate) env: EnvVars,
    pub(crate) cwd: PathBuf,
    pub(crate) color: bool,
    /// `--color` for stdout.
    pub(crate) color_stdout: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: u8,
    pub(crate) config: Option<PathBuf>,
}

impl Context {
    /// The one place the process environment is read.
    pub(crate) fn new(cli: &Cli) -> Self {
        let env = EnvVars::capture();
        let cwd = env.cwd.clone();
        let color = crate::settings::color(cli.color, &env);
        let color_stdout = crate::settings::color_stdout(cli.color, &env);
        Context {
            env,
            cwd,
            color,
            color_stdout,
            quiet: cli.quiet,
            verbose: cli.verbose,
            config: cli.config.clone(),
        }
    }

    pub(crate) fn style(&self) -> crate::render::Style {
        crate::render::Style::for_stderr(self.color, self.env.github_actions)
    }

    /// `ORCH_HOME` (or the platform data dir).
    pub(crate) fn home(&self) -> Result<crate::history::Home, Error> {
        crate::history::Home::locate(self.env.orch_home.as_deref(), self.env.history.as_deref())
            .map_err(Error::environment)
    }

    pub(crate) fn project(&self) -> Result<Project, Error> {
        Ok(Project::load(self.config.as_deref(), &self.cwd)?)
    }

    /// What `run` and `plan` both need: the project, the validated workflow
    /// and its checked inputs.
    pub(crate) fn prepare(&self, target: &crate::cli::Target) -> Result<Prepared, Error> {
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
            color_stdout: self.color_stdout,
            quiet: self.quiet,
            verbose: self.verbose,
        };
        Ok(RunSettings::resolve(flags, &self.env, project, wf)?)
    }

    /// Find, read and validate one workflow.
    pub(crate) fn workflow(&self, project: &Project, arg: &str) -> Result<Arc<Workflow>, Error> {
        let path = project.find_workflow(arg, &self.cwd)?;
        load_workflow(&path, project)
    }
}

pub(crate) struct Prepared {
    pub(crate) project: Project,
    pub(crate) wf: Arc<Workflow>,
    pub(crate) inputs: serde_json::Value,
}

pub(crate) fn load_workflow(path: &Path, project: &Project) -> Result<Arc<Workflow>, Error> {
    let src = crate::load::read_source(path)?;
    Ok(Arc::new(crate::validate::workflow_source(
        &src,
        &project.config,
    )?))
}
