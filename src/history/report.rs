//! The read side of `orch report RUN`: everything recorded of one run and,
//! nested, of the child runs its `workflow:` steps started, with the last
//! lines of a step's log.

use std::io::{Read, Seek, SeekFrom};

use rusqlite::OptionalExtension;

use super::error::HistoryError;
use super::home::Home;
use super::runs::{ApprovalRow, RunRow, StepRow};
use super::store::Store;
use super::timeline::RunSpans;

/// How deep child runs are followed: a `workflow:` step inside a child
/// inside a child… stops here (the validator forbids cycles; this bounds
/// a history edited by hand).
const MAX_DEPTH: usize = 8;

/// One recorded run with its children.
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub(crate) run: RunRow,
    /// The orch that recorded the run.
    pub(crate) orch_version: String,
    pub(crate) steps: Vec<StepRow>,
    pub(crate) spans: RunSpans,
    pub(crate) approvals: Vec<ApprovalRow>,
    /// Child runs, each with the step (or for_each item) that started it.
    pub(crate) children: Vec<(String, RunRecord)>,
}

impl Store {
    /// `run`'s record and, nested, its child runs' records.
    pub(crate) fn run_record(&self, run: RunRow) -> Result<RunRecord, HistoryError> {
        self.record_at(run, 0)
    }

    fn record_at(&self, run: RunRow, depth: usize) -> Result<RunRecord, HistoryError> {
        let orch_version: Option<String> = self
            .conn
            .query_row(
                "SELECT orch_version FROM runs WHERE id = ?1",
                [&run.id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let steps = self.steps(&run.id)?;
        let spans = self.run_spans(&run.id)?;
        let approvals = self.approvals(&run.id)?;
        let mut children = Vec::new();
        if depth < MAX_DEPTH {
            let kids = self.children(&run.id)?;
            for kid in kids {
                // The step whose result names the child; else the child is
                // shown under no step (its start was not recorded yet).
                let step = steps
                    .iter()
                    .find(|s| s.child_run().as_deref() == Some(kid.id.as_str()))
                    .map(|s| s.step_id.clone())
                    .unwrap_or_default();
                children.push((step, self.record_at(kid, depth + 1)?));
            }
        }
        Ok(RunRecord {
            run,
            orch_version: orch_version.unwrap_or_default(),
            steps,
            spans,
            approvals,
            children,
        })
    }
}

/// The last `max_lines` lines (at most about `max_bytes`) of a step's log,
/// `None` when it has none. Logs are masked when written.
pub(crate) fn log_tail(
    home: &Home,
    run_id: &str,
    step: &str,
    max_lines: usize,
    max_bytes: u64,
) -> std::io::Result<Option<String>> {
    let path = home.run_logs(run_id).join(format!("{step}.log"));
    let mut f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let from = len.saturating_sub(max_bytes);
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    f.take(max_bytes).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    // A cut in the middle of a line drops that partial line.
    let text = if from > 0 {
        text.split_once('\n').map_or("", |(_, rest)| rest)
    } else {
        &text
    };
    let lines: Vec<&str> = text.lines().collect();
    let kept = &lines[lines.len().saturating_sub(max_lines)..];
    if kept.is_empty() {
        return Ok(None);
    }
    Ok(Some(kept.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_of_a_log_is_its_last_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home {
            dir: dir.path().to_path_buf(),
            in_memory: false,
        };
        let logs = home.run_logs("r");
        std::fs::create_dir_all(&logs).unwrap();
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(logs.join("s.log"), &text).unwrap();
        let tail = log_tail(&home, "r", "s", 3, 1 << 20).unwrap().unwrap();
        assert_eq!(tail, "line 97\nline 98\nline 99");
        // Cut by bytes: the partial first line goes.
        let tail = log_tail(&home, "r", "s", 100, 20).unwrap().unwrap();
        assert_eq!(tail, "line 98\nline 99");
        assert_eq!(log_tail(&home, "r", "none", 3, 100).unwrap(), None);
    }
}
