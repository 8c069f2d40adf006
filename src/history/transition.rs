//! The legal moves between statuses (SPEC §3). The store writes a status
//! only with `WHERE status IN (legal predecessors)`; anything else is a bug
//! and is reported, never a silent overwrite.

use crate::event::Status;

/// Statuses a step may move to `to` from. `Pending` is reached only
/// through [`RESUMABLE_STEP`] by `orch resume`.
pub(crate) fn step_from(to: Status) -> &'static [Status] {
    use Status::*;
    match to {
        Pending => &[],
        Running => &[Pending, Retrying],
        Retrying => &[Running],
        // `retrying` covers the delay and the attempts after it.
        Succeeded => &[Running, Retrying],
        Failed => &[Running, Retrying],
        Skipped => &[Pending],
        Cached => &[Pending],
        Cancelled => &[Pending, Running, Retrying],
        Compensated => &[Succeeded],
        Waiting => &[],
    }
}

/// Step statuses `orch resume` may put back to `pending`: everything
/// terminal. (Which of them it does reset is the resume plan's choice.)
pub(crate) const RESUMABLE_STEP: &[Status] = &[
    Status::Succeeded,
    Status::Failed,
    Status::Skipped,
    Status::Cached,
    Status::Cancelled,
    Status::Compensated,
    Status::Running,
    Status::Retrying,
];

/// Statuses a run may move to `to` from. `running → running` is the
/// resume of an interrupted run (its process died); `succeeded → running`
/// is `orch resume --from` on a run that succeeded.
pub(crate) fn run_from(to: Status) -> &'static [Status] {
    use Status::*;
    match to {
        Pending => &[],
        Running => &[Pending, Waiting, Failed, Cancelled, Running, Succeeded],
        Waiting => &[Running],
        Succeeded | Failed | Cancelled => &[Running],
        _ => &[],
    }
}

#[cfg(test)]
pub(crate) fn step_legal(from: Status, to: Status) -> bool {
    step_from(to).contains(&from)
}

#[cfg(test)]
pub(crate) fn run_legal(from: Status, to: Status) -> bool {
    run_from(to).contains(&from)
}

/// `status IN (…)` for SQL, from a list of statuses.
pub(crate) fn sql_list(list: &[Status]) -> String {
    let mut s = String::from("(");
    for (i, st) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('\'');
        s.push_str(st.as_str());
        s.push('\'');
    }
    if list.is_empty() {
        s.push_str("NULL");
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn legal_step_paths() {
        for (a, b) in [
            (Pending, Running),
            (Running, Retrying),
            (Retrying, Running),
            (Running, Succeeded),
            (Retrying, Failed),
            (Pending, Skipped),
            (Pending, Cached),
            (Succeeded, Compensated),
            (Running, Cancelled),
        ] {
            assert!(step_legal(a, b), "{a:?} -> {b:?} should be legal");
        }
    }

    #[test]
    fn illegal_step_paths_are_rejected() {
        for (a, b) in [
            (Succeeded, Running),
            (Succeeded, Failed),
            (Failed, Succeeded),
            (Skipped, Running),
            (Cached, Succeeded),
            (Compensated, Succeeded),
            (Failed, Compensated),
            (Pending, Retrying),
            (Pending, Succeeded),
            (Succeeded, Pending),
        ] {
            assert!(!step_legal(a, b), "{a:?} -> {b:?} should be illegal");
        }
    }

    #[test]
    fn run_paths() {
        assert!(run_legal(Pending, Running));
        assert!(run_legal(Running, Waiting));
        assert!(run_legal(Waiting, Running));
        assert!(run_legal(Failed, Running));
        assert!(run_legal(Succeeded, Running));
        assert!(!run_legal(Succeeded, Failed));
        assert!(!run_legal(Pending, Succeeded));
        assert!(!run_legal(Waiting, Succeeded));
    }

    #[test]
    fn sql_lists() {
        assert_eq!(sql_list(&[Pending, Running]), "('pending','running')");
        assert_eq!(sql_list(&[]), "(NULL)");
    }
}
