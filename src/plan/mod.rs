//! The DAG of a validated workflow, built once: dependencies as indices,
//! who waits for whom, what each step's expressions read, levels. The
//! engine, `orch plan`, `orch graph` and `orch resume` all use this one.

pub(crate) mod critical;
pub(crate) mod graph;
pub(crate) mod matrix;
pub(crate) mod resume;

pub(crate) use resume::Restored;

use crate::model::{Phase, Workflow};

/// The steps of a workflow as a graph of indices into `wf.steps`.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Same-phase needs of each step: what it waits for.
    pub(crate) deps: Vec<Vec<usize>>,
    /// Steps that wait for each step (the reverse of `deps`).
    pub(crate) dependents: Vec<Vec<usize>>,
    /// Needs of any phase (earlier phases are done first); what `success()`
    /// and `failure()` look at.
    pub(crate) all_needs: Vec<Vec<usize>>,
    /// Steps each step's expressions read (its `steps.<id>` context).
    pub(crate) reads: Vec<Vec<usize>>,
    /// Whether some step reads each step (the reverse of `reads`): the
    /// engine keeps a finished step's view only then, and builds it again
    /// for the rare reader that is not a step (outputs, compensations).
    pub(crate) read: Vec<bool>,
    /// Expected remaining path of each step (its own expected duration plus
    /// the longest path of the steps of its phase waiting for it): among
    /// ready steps of equal priority the longest starts first. Every step
    /// counts [`critical::DEFAULT_EXPECTED`] until [`Plan::expect`] is
    /// given durations; all zero after [`Plan::fifo`] (file order).
    pub(crate) rank: Vec<std::time::Duration>,
    /// Longest chain of needs (any phase) above each step: 0 for a step
    /// that needs nothing. A step is always deeper than what it needs, so
    /// sorting by (depth, index) is a topological order that does not
    /// depend on timing: `ORCH_ENV` writes are applied in it.
    pub(crate) depth: Vec<usize>,
    phases: Vec<Phase>,
}

impl Plan {
    pub(crate) fn new(wf: &Workflow) -> Self {
        let n = wf.steps.len();
        let index: std::collections::HashMap<&str, usize> = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut deps = vec![Vec::new(); n];
        let mut all_needs = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, s) in wf.steps.iter().enumerate() {
            for need in &s.needs {
                if let Some(&j) = index.get(need.id.as_str()) {
                    all_needs[i].push(j);
                    if wf.steps[j].phase == s.phase && !deps[i].contains(&j) {
                        deps[i].push(j);
                        dependents[j].push(i);
                    }
                }
            }
        }
        let reads: Vec<Vec<usize>> = wf
            .steps
            .iter()
            .map(|s| {
                s.reads(|_| true)
                    .into_iter()
                    .filter_map(|id| index.get(id).copied())
                    .collect()
            })
            .collect();
        let mut read = vec![false; n];
        for &j in reads.iter().flatten() {
            read[j] = true;
        }
        let mut depth = vec![0usize; n];
        for i in graph::topo_order(&all_needs) {
            depth[i] = all_needs[i]
                .iter()
                .map(|&d| depth[d] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut plan = Plan {
            depth,
            deps,
            dependents,
            all_needs,
            reads,
            read,
            rank: Vec::new(),
            phases: wf.steps.iter().map(|s| s.phase).collect(),
        };
        plan.rank_by(&critical::Expected::unknown(n).durations);
        plan
    }

    /// Rank ready steps by their expected remaining path, from these
    /// expected durations (one per step).
    pub(crate) fn rank_by(&mut self, expected: &[std::time::Duration]) {
        self.rank = critical::remaining(self, expected);
    }

    /// Rank nothing: ready steps start by priority, then in file order.
    pub(crate) fn fifo(&mut self) {
        self.rank = vec![std::time::Duration::ZERO; self.deps.len()];
    }

    /// The steps of one phase, in file order.
    pub(crate) fn members(&self, phase: Phase) -> impl Iterator<Item = usize> + '_ {
        (0..self.deps.len()).filter(move |&i| self.phases[i] == phase)
    }

    /// Levels of one phase, as step indices: every step comes one level after
    /// its deepest need.
    pub(crate) fn levels(&self, phase: Phase) -> Vec<Vec<usize>> {
        let members: Vec<usize> = self.members(phase).collect();
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

    /// Whether the order of ready steps can never matter at `slots`
    /// concurrency, so that ranking by recorded durations has nothing to
    /// decide: every step takes one slot (no `for_each` items, no child
    /// runs, no resource pools) and no more steps can be ready or running
    /// at once than there are slots. Those are steps none of which needs
    /// another, and a chain of needs holds one of them at most: so there
    /// are at most `n - longest chain + 1` (a chain of 300: one).
    pub(crate) fn never_short_of_slots(&self, wf: &Workflow, slots: usize) -> bool {
        let one_slot_each = wf.steps.iter().all(|s| {
            s.for_each.is_none()
                && s.resources.is_empty()
                && !matches!(s.body.kind, crate::model::StepKind::Workflow { .. })
        });
        let n = self.depth.len();
        let longest = self.depth.iter().max().map_or(0, |d| d + 1);
        one_slot_each && (n + 1).saturating_sub(longest) <= slots
    }

    /// `step` and every step that needs it, directly or not, in any phase;
    /// in file order.
    pub(crate) fn downstream(&self, step: usize) -> Vec<usize> {
        let n = self.all_needs.len();
        let mut marked = vec![false; n];
        marked[step] = true;
        // Needs may point at any earlier or later index: repeat to a fixpoint.
        loop {
            let mut changed = false;
            for i in 0..n {
                if !marked[i] && self.all_needs[i].iter().any(|&d| marked[d]) {
                    marked[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        (0..n).filter(|&i| marked[i]).collect()
    }

    /// Which of `candidates` `step` needs, directly or not (in any phase),
    /// in the order of [`Plan::depth`], then file order. Walks only the
    /// steps above `step`.
    pub(crate) fn ancestors_among(&self, step: usize, candidates: &[usize]) -> Vec<usize> {
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut seen = vec![false; self.all_needs.len()];
        let mut stack: Vec<usize> = self.all_needs[step].clone();
        while let Some(j) = stack.pop() {
            if !std::mem::replace(&mut seen[j], true) {
                stack.extend(self.all_needs[j].iter().copied().filter(|&d| !seen[d]));
            }
        }
        let mut out: Vec<usize> = candidates.iter().copied().filter(|&c| seen[c]).collect();
        out.sort_by_key(|&c| (self.depth[c], c));
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> (Workflow, Plan) {
        let src = std::sync::Arc::new(crate::source::Source::new("t.yaml", "t.yaml", yaml));
        let wf = crate::validate::workflow_source(&src, &crate::model::Config::default())
            .expect("valid");
        let p = Plan::new(&wf);
        (wf, p)
    }

    #[test]
    fn deps_dependents_and_levels() {
        let (_, p) = plan(
            "name: d\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n  - {id: c, needs: [a, b], run: 'true'}\nfinally:\n  - {id: f, needs: c, run: 'true'}\n",
        );
        assert_eq!(p.deps, [vec![], vec![0], vec![0, 1], vec![]]);
        assert_eq!(p.all_needs[3], [2], "a need across phases still counts");
        assert_eq!(p.dependents[0], [1, 2]);
        assert_eq!(p.levels(Phase::Main), [vec![0], vec![1], vec![2]]);
        assert_eq!(p.levels(Phase::Finally), [vec![3]]);
        assert_eq!(p.downstream(1), [1, 2, 3]);
        assert_eq!(p.depth, [0, 1, 2, 3]);
        assert_eq!(p.ancestors_among(3, &[2, 1, 0]), [0, 1, 2]);
        assert_eq!(p.ancestors_among(1, &[2, 1, 0]), [0]);
        assert!(p.ancestors_among(0, &[1, 2]).is_empty());
    }

    #[test]
    fn slots_run_short_only_where_independent_steps_outnumber_them() {
        let chain = "name: c\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n  - {id: c, needs: b, run: 'true'}\n";
        let (wf, p) = plan(chain);
        assert!(p.never_short_of_slots(&wf, 1), "a chain runs one at a time");
        let wide = "name: w\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true'}\n  - {id: c, run: 'true'}\n";
        let (wf, p) = plan(wide);
        assert!(!p.never_short_of_slots(&wf, 2));
        assert!(p.never_short_of_slots(&wf, 3));
        // A diamond: b and c may run together, never a with them.
        let diamond = "name: d\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n  - {id: c, needs: a, run: 'true'}\n  - {id: d, needs: [b, c], run: 'true'}\n";
        let (wf, p) = plan(diamond);
        assert!(!p.never_short_of_slots(&wf, 1));
        assert!(p.never_short_of_slots(&wf, 2));
        // Items take a slot each, whatever the shape.
        let items = "name: i\nsteps:\n  - {id: a, for_each: [1, 2, 3], run: 'true'}\n";
        let (wf, p) = plan(items);
        assert!(!p.never_short_of_slots(&wf, 8));
        // So may a step waiting for a pool.
        let (mut wf, p) = plan(chain);
        wf.steps[1].resources.push(("db".into(), 1));
        assert!(!p.never_short_of_slots(&wf, 8));
    }

    #[test]
    fn reads_cover_every_expression_of_a_step_once() {
        let (_, p) = plan(
            "name: r\nsteps:\n  - {id: a, transform: {v: '${{ 1 }}'}}\n  - {id: b, transform: {v: '${{ 2 }}'}}\n  - id: c\n    needs: [a, b]\n    cache: {key: '${{ steps.a.outputs.v }}'}\n    run: echo ${{ steps.b.outputs.v }} ${{ steps.a.outputs.v }}\n",
        );
        // `cache.key` is read too (it comes before the body), each step once.
        assert_eq!(p.reads[2], [0, 1]);
    }
}
