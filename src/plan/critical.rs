//! Critical-path order: how long each step is expected to take (from past
//! runs), the longest expected path from each step to the end of its phase,
//! and what the run is expected to take at a concurrency, with the order
//! the engine uses (priority, then that path, then file order).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use crate::model::{Phase, Workflow};

use super::Plan;

/// What a step is expected to take when nothing at all is known.
pub(crate) const DEFAULT_EXPECTED: Duration = Duration::from_secs(1);

/// What history knows of one step: the median duration of its last
/// successful runs, and how many runs that is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observed {
    pub(crate) median: Duration,
    pub(crate) runs: usize,
}

/// Where a step's expected duration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Basis {
    /// Its own median over this many successful runs.
    History { runs: usize },
    /// Not known itself: the median of the workflow's known steps.
    WorkflowMedian,
    /// Nothing is known: [`DEFAULT_EXPECTED`].
    Default,
}

/// The expected duration of every step of a workflow (indices of
/// `wf.steps`), with where each comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expected {
    pub(crate) durations: Vec<Duration>,
    pub(crate) basis: Vec<Basis>,
}

impl Expected {
    /// Every step at [`DEFAULT_EXPECTED`]: ranks count steps.
    pub(crate) fn unknown(n: usize) -> Self {
        Expected {
            durations: vec![DEFAULT_EXPECTED; n],
            basis: vec![Basis::Default; n],
        }
    }

    /// From what history observed, by step id. A step it has not seen gets
    /// the median of the steps it has seen, so that one new step in a known
    /// workflow is neither the longest nor the shortest.
    pub(crate) fn from_observed(wf: &Workflow, observed: &HashMap<String, Observed>) -> Self {
        let mut known: Vec<Duration> = wf
            .steps
            .iter()
            .filter_map(|s| observed.get(&s.id).map(|o| o.median))
            .collect();
        known.sort_unstable();
        let fallback = median(&known);
        let (durations, basis) = wf
            .steps
            .iter()
            .map(|s| match (observed.get(&s.id), fallback) {
                (Some(o), _) => (o.median, Basis::History { runs: o.runs }),
                (None, Some(m)) => (m, Basis::WorkflowMedian),
                (None, None) => (DEFAULT_EXPECTED, Basis::Default),
            })
            .unzip();
        Expected { durations, basis }
    }
}

/// The lower median of ascending `sorted` values (nearest rank, as
/// `orch stats` reports p50).
pub(crate) fn median<T: Copy>(sorted: &[T]) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[(sorted.len() - 1) / 2])
}

/// The expected remaining path of every step: its own expected duration
/// plus the longest remaining path of the steps (of its phase) that wait
/// for it.
pub(crate) fn remaining(plan: &Plan, expected: &[Duration]) -> Vec<Duration> {
    let own = own(plan, expected);
    let mut out = own.clone();
    // Dependents come after their needs in topological order: walk it
    // backwards so each dependent is done before the steps it waits for.
    for &i in super::graph::topo_order(&plan.deps).iter().rev() {
        let tail = plan.dependents[i]
            .iter()
            .map(|&d| out[d])
            .max()
            .unwrap_or_default();
        out[i] = own[i] + tail;
    }
    out
}

/// One expected duration per step; a step without one counts the default.
fn own(plan: &Plan, expected: &[Duration]) -> Vec<Duration> {
    (0..plan.deps.len())
        .map(|i| expected.get(i).copied().unwrap_or(DEFAULT_EXPECTED))
        .collect()
}

/// The chain of steps of `phase` with the longest expected remaining path,
/// from its first step to its last; ties go to the earlier step in the file.
pub(crate) fn critical_path(plan: &Plan, remaining: &[Duration], phase: Phase) -> Vec<usize> {
    let first = |candidates: &mut dyn Iterator<Item = usize>| {
        // `max_by_key` keeps the last of equals: compare the reverse index too.
        candidates.max_by_key(|&i| (remaining[i], Reverse(i)))
    };
    let mut path = Vec::new();
    let mut at = first(&mut plan.members(phase).filter(|&i| plan.deps[i].is_empty()));
    while let Some(i) = at {
        path.push(i);
        at = first(&mut plan.dependents[i].iter().copied());
    }
    path
}

/// The chain of steps that decided a recorded run's length, first to
/// last: the step that ended last, the need of it that ended last, and so
/// on back; a step of a later phase without needs continues with the step
/// of an earlier phase that ended last (the phase waited for it).
/// `ended[i]`: when step `i` ended, `None` for a step that did not run.
pub(crate) fn observed_path(plan: &Plan, ended: &[Option<i64>]) -> Vec<usize> {
    let n = plan.deps.len().min(ended.len());
    let last = |candidates: &mut dyn Iterator<Item = usize>| {
        candidates
            .filter(|&i| i < n && ended[i].is_some())
            .max_by_key(|&i| (ended[i], Reverse(i)))
    };
    let mut path = Vec::new();
    let mut at = last(&mut (0..n));
    while let Some(i) = at {
        path.push(i);
        at = if plan.all_needs[i].is_empty() {
            last(&mut (0..n).filter(|&j| plan.phases[j] < plan.phases[i]))
        } else {
            last(&mut plan.all_needs[i].iter().copied())
        };
        // Needs are acyclic and phases only go back: this ends; the bound
        // keeps a malformed plan from looping.
        if path.len() > n {
            break;
        }
    }
    path.reverse();
    path
}

/// A unit waiting for a slot in the simulation: the engine's order.
#[derive(PartialEq, Eq)]
struct Waiting {
    priority: i64,
    rank: Duration,
    step: usize,
}

impl Ord for Waiting {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .cmp(&o.priority)
            .then(self.rank.cmp(&o.rank))
            .then_with(|| o.step.cmp(&self.step))
    }
}

impl PartialOrd for Waiting {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// How long the steps of `phase` are expected to take at `concurrency`:
/// list scheduling with the expected durations, starting ready steps in
/// the engine's order (`priority`, then `plan.rank`, then file order).
/// An estimate: each step is one unit (no `for_each` fan-out, no pools),
/// and every step runs.
pub(crate) fn makespan(
    plan: &Plan,
    expected: &[Duration],
    priority: &[i64],
    concurrency: usize,
    phase: Phase,
) -> Duration {
    let slots = concurrency.max(1);
    let expected = own(plan, expected);
    let mut waiting_on: Vec<usize> = plan.deps.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Waiting> = BinaryHeap::new();
    let queue = |ready: &mut BinaryHeap<Waiting>, i: usize| {
        ready.push(Waiting {
            priority: priority.get(i).copied().unwrap_or(0),
            rank: plan.rank[i],
            step: i,
        })
    };
    for i in plan.members(phase).filter(|&i| waiting_on[i] == 0) {
        queue(&mut ready, i);
    }
    // Running steps by end time, then index, earliest first.
    let mut running: BinaryHeap<Reverse<(Duration, usize)>> = BinaryHeap::new();
    let mut now = Duration::ZERO;
    loop {
        while running.len() < slots {
            let Some(w) = ready.pop() else { break };
            running.push(Reverse((now + expected[w.step], w.step)));
        }
        let Some(Reverse((end, i))) = running.pop() else {
            break;
        };
        now = end;
        for &d in &plan.dependents[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                queue(&mut ready, d);
            }
        }
    }
    now
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

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    /// 4 short independent steps listed first, then a chain of 2 long ones.
    const SKEWED: &str = "name: s\nsteps:\n  - {id: s1, run: 'true'}\n  - {id: s2, run: 'true'}\n  - {id: s3, run: 'true'}\n  - {id: s4, run: 'true'}\n  - {id: l1, run: 'true'}\n  - {id: l2, needs: l1, run: 'true'}\n";

    #[test]
    fn remaining_path_is_own_time_plus_the_longest_tail() {
        // a → b → d, a → c → d, and e alone.
        let (_, p) = plan(
            "name: d\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n  - {id: c, needs: a, run: 'true'}\n  - {id: d, needs: [b, c], run: 'true'}\n  - {id: e, run: 'true'}\nfinally:\n  - {id: f, needs: d, run: 'true'}\n",
        );
        let r = remaining(&p, &ms(&[10, 100, 20, 5, 1, 1000]));
        assert_eq!(r, ms(&[115, 105, 25, 5, 1, 1000]), "{r:?}");
        // Without history every step counts 1s: the longest chain by steps.
        assert_eq!(p.rank, ms(&[3000, 2000, 2000, 1000, 1000, 1000]));
        assert_eq!(critical_path(&p, &r, Phase::Main), [0, 1, 3]);
        assert_eq!(critical_path(&p, &r, Phase::Finally), [5]);
        assert!(critical_path(&p, &r, Phase::OnFailure).is_empty());
    }

    #[test]
    fn the_observed_path_follows_what_ended_last() {
        // a → b → d, a → c → d, e alone; f in `finally`.
        let (_, p) = plan(
            "name: d\nsteps:\n  - {id: a, run: 'true'}\n  - {id: b, needs: a, run: 'true'}\n  - {id: c, needs: a, run: 'true'}\n  - {id: d, needs: [b, c], run: 'true'}\n  - {id: e, run: 'true'}\nfinally:\n  - {id: f, run: 'true'}\n",
        );
        // c ended after b: the path goes through c; f waited for d.
        let ended = [Some(10), Some(20), Some(30), Some(40), Some(35), Some(50)];
        assert_eq!(observed_path(&p, &ended), [0, 2, 3, 5]);
        // e ended last; d did not run.
        let ended = [Some(10), Some(20), Some(30), None, Some(45), None];
        assert_eq!(observed_path(&p, &ended), [4]);
        assert!(observed_path(&p, &[None; 6]).is_empty());
    }

    #[test]
    fn ties_on_the_critical_path_go_to_file_order() {
        let (_, p) = plan(SKEWED);
        let r = remaining(&p, &[DEFAULT_EXPECTED; 6]);
        assert_eq!(critical_path(&p, &r, Phase::Main), [4, 5]);
        let r = remaining(&p, &ms(&[5, 5, 5, 5, 1, 1]));
        assert_eq!(critical_path(&p, &r, Phase::Main), [0]);
    }

    #[test]
    fn expectations_come_from_history_then_the_workflow_median_then_a_default() {
        let (wf, _) = plan(SKEWED);
        let seen = |pairs: &[(&str, u64, usize)]| -> HashMap<String, Observed> {
            pairs
                .iter()
                .map(|&(id, m, runs)| {
                    let median = Duration::from_millis(m);
                    (id.to_string(), Observed { median, runs })
                })
                .collect()
        };
        let e = Expected::from_observed(&wf, &seen(&[]));
        assert_eq!(e, Expected::unknown(6));
        let e = Expected::from_observed(
            &wf,
            &seen(&[
                ("s1", 10, 3),
                ("l1", 400, 20),
                ("s2", 30, 1),
                ("gone", 9, 9),
            ]),
        );
        assert_eq!(e.durations, ms(&[10, 30, 30, 30, 400, 30]));
        assert_eq!(e.basis[0], Basis::History { runs: 3 });
        assert_eq!(e.basis[2], Basis::WorkflowMedian);
        assert_eq!(median(&[1, 2, 3, 4]), Some(2));
        assert_eq!(median::<u8>(&[]), None);
    }

    #[test]
    fn makespan_follows_the_engine_order() {
        let (_, mut p) = plan(SKEWED);
        let e = ms(&[100, 100, 100, 100, 400, 400]);
        let none = [0; 6];
        // Critical path first: l1 at once, the short ones beside it.
        p.rank_by(&e);
        assert_eq!(makespan(&p, &e, &none, 2, Phase::Main), ms(&[800])[0]);
        // File order: the short ones take both slots for 200ms first.
        p.fifo();
        assert_eq!(makespan(&p, &e, &none, 2, Phase::Main), ms(&[1000])[0]);
        // Priority wins over the path: l1 waits for the short ones.
        p.rank_by(&e);
        let prio = [1, 1, 1, 1, 0, 0];
        assert_eq!(makespan(&p, &e, &prio, 2, Phase::Main), ms(&[1000])[0]);
        // One slot: everything in a row; unlimited: the longest chain.
        assert_eq!(makespan(&p, &e, &none, 1, Phase::Main), ms(&[1200])[0]);
        assert_eq!(makespan(&p, &e, &none, 0, Phase::Main), ms(&[1200])[0]);
        assert_eq!(makespan(&p, &e, &none, 64, Phase::Main), ms(&[800])[0]);
        assert_eq!(makespan(&p, &e, &none, 2, Phase::Finally), Duration::ZERO);
    }
}
