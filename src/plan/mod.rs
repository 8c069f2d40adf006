//! The DAG of a validated workflow: dependencies as indices, levels, order.

pub mod graph;
