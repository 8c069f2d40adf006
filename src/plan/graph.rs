//! Graph algorithms over step dependencies: cycles, levels, transitive needs.

/// A cycle among `deps` (deps[i] = steps i waits for), as a path that starts
/// and ends at the same node, or `None` when the graph is a DAG.
pub(crate) fn find_cycle(deps: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let n = deps.len();
    let mut mark = vec![Mark::New; n];
    // Iterative DFS so a 10,000-step chain cannot overflow the stack.
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|(n, _)| *n).collect();
                        cycle.push(dep);
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// Topological levels: level 0 has no deps; each node is one past its deepest dep.
/// The graph must be acyclic.
pub(crate) fn levels(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let order = topo_order(deps);
    let mut level = vec![0usize; deps.len()];
    for &i in &order {
        level[i] = deps[i].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
    }
    let max = level.iter().copied().max().map(|m| m + 1).unwrap_or(0);
    let mut out = vec![Vec::new(); max];
    for (i, l) in level.iter().enumerate() {
        out[*l].push(i);
    }
    out
}

/// Nodes in an order where every node comes after its deps (Kahn's algorithm,
/// stable by index).
pub(crate) fn topo_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut remaining: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| remaining[i] == 0).collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop_front() {
        out.push(i);
        for &j in &dependents[i] {
            remaining[j] -= 1;
            if remaining[j] == 0 {
                ready.push_back(j);
            }
        }
    }
    out
}

/// Transitive needs, answered on demand (the graph must be acyclic).
///
/// Each question is a search from `a` that never goes below `b` in
/// topological order (nothing there can reach `b`), so a question about a
/// near need costs a few steps. A table of every pair would be n² bits:
/// 1.25 GB, and as many word operations, for a 100,000-step chain, when a
/// workflow asks about only the steps its expressions read.
pub(crate) struct Closure<'a> {
    deps: &'a [Vec<usize>],
    /// Position of each node in a topological order.
    pos: Vec<usize>,
    search: std::cell::RefCell<Search>,
}

#[derive(Default)]
struct Search {
    /// `seen[x] == round`: visited in this search.
    seen: Vec<u32>,
    round: u32,
    stack: Vec<usize>,
}

impl<'a> Closure<'a> {
    pub(crate) fn new(deps: &'a [Vec<usize>]) -> Self {
        let mut pos = vec![0; deps.len()];
        for (k, i) in topo_order(deps).into_iter().enumerate() {
            pos[i] = k;
        }
        Closure {
            deps,
            pos,
            search: std::cell::RefCell::new(Search {
                seen: vec![0; deps.len()],
                ..Search::default()
            }),
        }
    }

    /// Does `a` (transitively) need `b`?
    pub(crate) fn needs(&self, a: usize, b: usize) -> bool {
        if a == b || self.pos[a] <= self.pos[b] {
            return false;
        }
        let mut s = self.search.borrow_mut();
        s.round = s.round.wrapping_add(1);
        if s.round == 0 {
            s.seen.iter_mut().for_each(|x| *x = 0);
            s.round = 1;
        }
        let round = s.round;
        s.stack.clear();
        s.stack.push(a);
        while let Some(x) = s.stack.pop() {
            for &d in &self.deps[x] {
                if d == b {
                    return true;
                }
                if self.pos[d] > self.pos[b] && s.seen[d] != round {
                    s.seen[d] = round;
                    s.stack.push(d);
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_with_their_path() {
        // 0 → 1 → 2 → 0
        let deps = vec![vec![2], vec![0], vec![1], vec![]];
        let c = find_cycle(&deps).unwrap();
        assert_eq!(c.first(), c.last());
        assert_eq!(c.len(), 4);
        assert!(find_cycle(&[vec![], vec![0], vec![0, 1]]).is_none());
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }

    #[test]
    fn levels_of_a_diamond() {
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2]];
        assert_eq!(levels(&deps), vec![vec![0], vec![1, 2], vec![3]]);
    }

    #[test]
    fn closure_is_transitive() {
        let deps = vec![vec![], vec![0], vec![1], vec![]];
        let c = Closure::new(&deps);
        assert!(c.needs(2, 0));
        assert!(c.needs(2, 1));
        assert!(!c.needs(0, 2));
        assert!(!c.needs(3, 0));
        assert!(!c.needs(1, 1));
        // Asked again, in another order: each search starts afresh.
        assert!(c.needs(2, 0));
        assert!(!c.needs(1, 2));
    }

    #[test]
    fn closure_of_a_diamond_and_of_a_long_chain() {
        let deps = vec![vec![], vec![0], vec![0], vec![1, 2], vec![]];
        let c = Closure::new(&deps);
        assert!(c.needs(3, 0) && c.needs(3, 1) && c.needs(3, 2));
        assert!(!c.needs(1, 2) && !c.needs(2, 1) && !c.needs(4, 0) && !c.needs(0, 4));
        let n = 100_000;
        let chain: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let c = Closure::new(&chain);
        assert!(c.needs(n - 1, 0));
        assert!(c.needs(n - 1, n - 2));
        assert!(!c.needs(0, n - 1));
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let n = 20_000;
        let deps: Vec<Vec<usize>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert!(find_cycle(&deps).is_none());
        assert_eq!(levels(&deps).len(), n);
    }
}
