//! Who decides an `approval` step when orch runs one: a pre-approval from
//! `--approve`, a decision recorded with `orch approve`/`orch reject`, or
//! the person at the terminal. Otherwise the run waits (exit 3).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::exec::{ApprovalRequest, Approver, CancelLevel, CancelWatch, Decision, DecisionFuture};
use crate::history::runs::ApprovalRow;
use crate::history::store::now_ms;
use crate::report::Reporter;
use crate::settings::{PreApproved, UserName};

pub(crate) struct RunApprover {
    pub(crate) pre: PreApproved,
    /// Decisions already in the history (for `orch resume`).
    pub(crate) recorded: HashMap<String, ApprovalRow>,
    /// stdin and stderr are a terminal, outside CI.
    pub(crate) interactive: bool,
    pub(crate) reporter: Arc<dyn Reporter>,
    pub(crate) user: UserName,
    /// The run's cancellation: Ctrl-C at the prompt cancels the run.
    pub(crate) cancel: CancelWatch,
}

impl Approver for RunApprover {
    fn decide(&self, req: ApprovalRequest) -> DecisionFuture {
        if self.pre.covers(&req.step_id) {
            let by = self.user.get();
            return Box::pin(async move {
                Decision::Approved {
                    by,
                    comment: Some("approved in advance with --approve".into()),
                }
            });
        }
        if let Some(row) = self.recorded.get(&req.step_id) {
            let d = recorded_decision(row);
            if d != Decision::Wait || !self.interactive {
                return Box::pin(async move { d });
            }
        }
        if !self.interactive {
            return Box::pin(async { Decision::Wait });
        }
        let reporter = self.reporter.clone();
        let user = self.user.get();
        let cancel = self.cancel.clone();
        Box::pin(async move { prompt(req, reporter, user, cancel).await })
    }
}

/// What a stored approval row says now.
fn recorded_decision(row: &ApprovalRow) -> Decision {
    let by = row.decided_by.clone().unwrap_or_default();
    match row.decision.as_deref() {
        Some("approved") => Decision::Approved {
            by,
            comment: row.comment.clone(),
        },
        Some("rejected") => Decision::Rejected {
            by,
            comment: row.comment.clone(),
        },
        Some(_) => Decision::TimedOut,
        None if row.expires_at.is_some_and(|e| e <= now_ms()) => Decision::TimedOut,
        None => Decision::Wait,
    }
}

/// Ask on the terminal. The read runs on a thread of its own, so a timeout
/// or a cancelled run can give up on it (a blocked read cannot be
/// cancelled); a cancelled run leaves the step waiting, and the engine
/// cancels waiting steps of a cancelled run.
#[allow(
    clippy::print_stderr,
    reason = "the approval prompt is asked on the terminal"
)]
async fn prompt(
    req: ApprovalRequest,
    reporter: Arc<dyn Reporter>,
    user: String,
    mut cancel: CancelWatch,
) -> Decision {
    let (tx, rx) = tokio::sync::oneshot::channel();
    reporter.pause(true);
    let question = format!(
        "\n? {} (step `{}`{})\n  approve? [y/n, optionally followed by a comment]: ",
        req.message,
        req.step_id,
        req.timeout
            .map(|t| format!(", times out in {}", humantime::format_duration(t)))
            .unwrap_or_default()
    );
    let spawned = std::thread::Builder::new()
        .name("orch-approval".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut line = String::new();
            loop {
                eprint!("{question}");
                let _ = std::io::stderr().flush();
                line.clear();
                match stdin.lock().read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {}
                }
                if let Some(answer) = parse_answer(&line) {
                    let _ = tx.send(Some(answer));
                    return;
                }
            }
        });
    if spawned.is_err() {
        reporter.pause(false);
        return Decision::Wait;
    }
    let far = Duration::from_secs(86400 * 365);
    let answer = tokio::select! {
        answer = tokio::time::timeout(req.timeout.unwrap_or(far), rx) => answer,
        () = cancelled(&mut cancel) => {
            reporter.pause(false);
            eprintln!();
            return Decision::Wait;
        }
    };
    reporter.pause(false);
    match answer {
        Err(_) => {
            eprintln!();
            Decision::TimedOut
        }
        Ok(Ok(Some((true, comment)))) => Decision::Approved { by: user, comment },
        Ok(Ok(Some((false, comment)))) => Decision::Rejected { by: user, comment },
        // stdin closed: nobody is there after all.
        Ok(_) => Decision::Wait,
    }
}

/// Resolves once the run is being cancelled (at once if it already is).
async fn cancelled(cancel: &mut CancelWatch) {
    while cancel.level() == CancelLevel::None {
        cancel.changed().await;
    }
}

/// `y`, `yes`, `n`, `no`, each optionally followed by a comment.
fn parse_answer(line: &str) -> Option<(bool, Option<String>)> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let ok = match word
        .trim_end_matches([',', ':'])
        .to_ascii_lowercase()
        .as_str()
    {
        "y" | "yes" => true,
        "n" | "no" => false,
        _ => return None,
    };
    let rest = rest.trim();
    Some((ok, (!rest.is_empty()).then(|| rest.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer("y\n"), Some((true, None)));
        assert_eq!(
            parse_answer("yes: ship it\n"),
            Some((true, Some("ship it".into())))
        );
        assert_eq!(
            parse_answer("N  not today"),
            Some((false, Some("not today".into())))
        );
        assert_eq!(parse_answer("maybe"), None);
        assert_eq!(parse_answer(""), None);
    }

    #[test]
    fn recorded_rows() {
        let mut row = ApprovalRow {
            step_id: "gate".into(),
            expires_at: None,
            decision: None,
            decided_by: None,
            comment: None,
        };
        assert_eq!(recorded_decision(&row), Decision::Wait);
        row.expires_at = Some(1);
        assert_eq!(recorded_decision(&row), Decision::TimedOut);
        row.decision = Some("approved".into());
        row.decided_by = Some("ana".into());
        assert_eq!(
            recorded_decision(&row),
            Decision::Approved {
                by: "ana".into(),
                comment: None
            }
        );
    }
}
