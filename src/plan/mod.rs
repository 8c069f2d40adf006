//! The DAG of a validated workflow: dependencies as indices, levels, order.

pub mod graph;
pub mod resume;

use crate::model::{Phase, Workflow};

/// The steps of a workflow as a graph of indices.
pub struct Plan {
    /// Same-phase needs of each step.
    pub deps: Vec<Vec<usize>>,
    phases: Vec<Phase>,
}

impl Plan {
    pub fn new(wf: &Workflow) -> Self {
        let deps = wf
            .steps
            .iter()
            .map(|s| {
                s.needs
                    .iter()
                    .filter_map(|n| wf.step_index(&n.id))
                    .filter(|&j| wf.steps[j].phase == s.phase)
                    .collect()
            })
            .collect();
        Plan {
            deps,
            phases: wf.steps.iter().map(|s| s.phase).collect(),
        }
    }

    /// Levels of one phase, as step indices: every step comes one level after
    /// its deepest need.
    pub fn levels(&self, phase: Phase) -> Vec<Vec<usize>> {
        let members: Vec<usize> = (0..self.deps.len())
            .filter(|&i| self.phases[i] == phase)
            .collect();
        let local: std::collections::HashMap<usize, usize> =
            members.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let deps: Vec<Vec<usize>> = members
            .iter()
            .map(|&i| {
                self.deps[i]
                    .iter()
                    .filter_map(|d| local.get(d).copied())
                    .collect()
            })
            .collect();
        graph::levels(&deps)
            .into_iter()
            .map(|l| l.into_iter().map(|k| members[k]).collect())
            .collect()
    }
}
