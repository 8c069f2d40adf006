//! The DAG as SVG, laid out by orch: levels top to bottom (each step one
//! level below its deepest need), a level's steps side by side, wrapped.
//! A big graph degrades instead of drowning: a level shows at most
//! [`MAX_PER_LEVEL`] steps (the rest as one "+N more" box) and at most
//! [`MAX_EDGES`] edges are drawn; the page says so.

use std::fmt::Write as _;

use super::{clip, esc, status_class};

/// Steps side by side in one line of a level.
const PER_LINE: usize = 8;
/// Steps drawn per level; the rest are counted in one box.
pub(crate) const MAX_PER_LEVEL: usize = 48;
/// Edges drawn at most.
pub(crate) const MAX_EDGES: usize = 1500;

const NODE_W: i64 = 138;
const NODE_H: i64 = 22;
const GAP_X: i64 = 12;
const GAP_Y: i64 = 10;
const LEVEL_GAP: i64 = 34;
const MARGIN: i64 = 8;

/// A step of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DagNode {
    pub(crate) id: String,
    /// As `orch show` shows it.
    pub(crate) status: String,
    pub(crate) level: usize,
    pub(crate) critical: bool,
}

/// The graph: nodes, `(need, step)` edges as node indices, and why it is
/// incomplete when it is (e.g. the workflow file is gone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dag {
    pub(crate) nodes: Vec<DagNode>,
    pub(crate) edges: Vec<(usize, usize)>,
    pub(crate) note: Option<String>,
}

/// Where each drawn node is (its top-left corner), `None` for a hidden one.
struct Layout {
    at: Vec<Option<(i64, i64)>>,
    /// Per level with hidden steps: the "+N more" box and N.
    more: Vec<(i64, i64, usize)>,
    width: i64,
    height: i64,
}

fn layout(d: &Dag) -> Layout {
    let levels = d.nodes.iter().map(|n| n.level + 1).max().unwrap_or(0);
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); levels];
    for (i, n) in d.nodes.iter().enumerate() {
        by_level[n.level].push(i);
    }
    let mut at = vec![None; d.nodes.len()];
    let mut more = Vec::new();
    let mut y = MARGIN;
    let mut widest = 1;
    for members in &by_level {
        if members.is_empty() {
            continue;
        }
        let shown = members.len().min(MAX_PER_LEVEL);
        let hidden = members.len() - shown;
        let slots = shown + usize::from(hidden > 0);
        let in_line = slots.min(PER_LINE);
        widest = widest.max(in_line);
        // A short level is centred over the widest line.
        let pad = (PER_LINE - in_line) as i64 * (NODE_W + GAP_X) / 2;
        let place = |k: usize| -> (i64, i64) {
            let (line, col) = (k / PER_LINE, k % PER_LINE);
            (
                MARGIN + pad + col as i64 * (NODE_W + GAP_X),
                y + line as i64 * (NODE_H + GAP_Y),
            )
        };
        for (k, &i) in members.iter().take(shown).enumerate() {
            at[i] = Some(place(k));
        }
        if hidden > 0 {
            let (mx, my) = place(shown);
            more.push((mx, my, hidden));
        }
        let lines = slots.div_ceil(PER_LINE) as i64;
        y += lines * (NODE_H + GAP_Y) - GAP_Y + LEVEL_GAP;
    }
    let _ = widest;
    Layout {
        at,
        more,
        width: 2 * MARGIN + PER_LINE as i64 * (NODE_W + GAP_X) - GAP_X,
        height: (y - LEVEL_GAP + MARGIN).max(NODE_H + 2 * MARGIN),
    }
}

pub(super) fn render(d: &Dag) -> String {
    let l = layout(d);
    let mut out = String::with_capacity(200 * d.nodes.len() + 80 * d.edges.len() + 1024);
    let mut notes: Vec<String> = d.note.iter().cloned().collect();
    let hidden: usize = l.more.iter().map(|m| m.2).sum();
    if hidden > 0 {
        notes.push(format!(
            "{} of {} steps drawn: a level shows at most {MAX_PER_LEVEL}; the table lists every step.",
            d.nodes.len() - hidden,
            d.nodes.len()
        ));
    }
    let visible: Vec<&(usize, usize)> = d
        .edges
        .iter()
        .filter(|(a, b)| {
            l.at.get(*a).copied().flatten().is_some() && l.at.get(*b).copied().flatten().is_some()
        })
        .collect();
    if visible.len() > MAX_EDGES {
        notes.push(format!(
            "{MAX_EDGES} of {} edges drawn (those of the critical path first).",
            visible.len()
        ));
    }
    for n in &notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
    }
    let _ = writeln!(
        out,
        "<svg id=\"dag\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"graph\">",
        l.width, l.height, l.width, l.height
    );
    // Critical edges first, so that a cap keeps them; drawn under the nodes.
    let crit = |&&(a, b): &&(usize, usize)| d.nodes[a].critical && d.nodes[b].critical;
    let mut ordered: Vec<&(usize, usize)> = visible.iter().copied().filter(crit).collect();
    ordered.extend(visible.iter().copied().filter(|e| !crit(e)));
    out.push_str("<g class=\"edges\">");
    for &&(a, b) in ordered.iter().take(MAX_EDGES) {
        let (Some((ax, ay)), Some((bx, by))) = (l.at[a], l.at[b]) else {
            continue;
        };
        let (x1, y1) = (ax + NODE_W / 2, ay + NODE_H);
        let (x2, y2) = (bx + NODE_W / 2, by);
        let mid = (y1 + y2) / 2;
        let cls = if d.nodes[a].critical && d.nodes[b].critical {
            "e crit"
        } else {
            "e"
        };
        let _ = write!(
            out,
            "<path class=\"{cls}\" d=\"M{x1} {y1}C{x1} {mid} {x2} {mid} {x2} {y2}\"/>"
        );
    }
    out.push_str("</g>\n");
    for (i, n) in d.nodes.iter().enumerate() {
        let Some((x, y)) = l.at[i] else { continue };
        let crit = if n.critical { " crit" } else { "" };
        let _ = writeln!(
            out,
            "<g class=\"node {}{crit}\" data-step=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"4\"/>\
             <text x=\"{}\" y=\"{}\">{}</text><title>{} ({})</title></g>",
            status_class(&n.status),
            esc(&n.id),
            x + NODE_W / 2,
            y + 15,
            esc(&clip(&n.id, 19)),
            esc(&n.id),
            esc(&n.status)
        );
    }
    for &(x, y, n) in &l.more {
        let _ = writeln!(
            out,
            "<g class=\"node more\"><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"4\"/>\
             <text x=\"{}\" y=\"{}\">+{n} more</text></g>",
            x + NODE_W / 2,
            y + 15
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: String, level: usize) -> DagNode {
        DagNode {
            id,
            status: "succeeded".into(),
            level,
            critical: false,
        }
    }

    #[test]
    fn levels_stack_and_wrap() {
        // a root, then 10 steps needing it: two lines of the second level.
        let mut d = Dag::default();
        d.nodes.push(node("root".into(), 0));
        for i in 0..10 {
            d.nodes.push(node(format!("s{i}"), 1));
            d.edges.push((0, i + 1));
        }
        let l = layout(&d);
        let (rx, ry) = l.at[0].unwrap();
        let (_, y1) = l.at[1].unwrap();
        let (_, y9) = l.at[9].unwrap();
        assert!(y1 > ry && y9 > y1, "the ninth wraps");
        // The root is centred.
        assert!(rx > MARGIN);
        let svg = render(&d);
        assert_eq!(svg.matches("<path class=\"e\"").count(), 10);
        assert_eq!(svg.matches("<g class=\"node ok\"").count(), 11);
        assert!(!svg.contains("class=\"note\""));
    }

    #[test]
    fn a_huge_graph_degrades_and_says_so() {
        let mut d = Dag::default();
        for i in 0..1000 {
            d.nodes.push(node(format!("s{i}"), 0));
        }
        for i in 0..1000 {
            d.nodes.push(node(format!("t{i}"), 1));
            for k in 0..3 {
                d.edges.push((k, 1000 + i));
            }
        }
        let svg = render(&d);
        assert_eq!(
            svg.matches("<g class=\"node ok\"").count(),
            2 * MAX_PER_LEVEL
        );
        assert_eq!(svg.matches("+952 more").count(), 2);
        assert!(svg.contains("96 of 2000 steps drawn"), "{}", &svg[..400]);
        assert!(svg.len() < 100_000, "{}", svg.len());
    }
}
