//! Statuses as the database stores them (`ToSql`/`FromSql` for
//! [`Status`]), and the status a run or step *shows*, which adds
//! `interrupted`: recorded as live, but no process holds its lock. That is
//! derived here and nowhere else.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::event::Status;

/// Every status, in the order of [`Status`].
pub(crate) const ALL: [Status; 10] = [
    Status::Pending,
    Status::Running,
    Status::Retrying,
    Status::Waiting,
    Status::Succeeded,
    Status::Failed,
    Status::Skipped,
    Status::Cached,
    Status::Cancelled,
    Status::Compensated,
];

/// Run statuses that a live process may still be changing: whether such
/// a run is alive is a lock, not a column.
pub(crate) const MAY_BE_LIVE: &[Status] = &[Status::Pending, Status::Running];

/// The status whose text is `s`.
pub(crate) fn parse(s: &str) -> Option<Status> {
    ALL.into_iter().find(|st| st.as_str() == s)
}

/// Text in a status column that is no status orch knows.
#[derive(Debug, thiserror::Error)]
#[error("unknown status `{0}`")]
pub(crate) struct UnknownStatus(pub String);

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        parse(text).ok_or_else(|| FromSqlError::Other(Box::new(UnknownStatus(text.to_string()))))
    }
}

/// What a run or step shows: its recorded status, or `interrupted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ShownStatus {
    Recorded(Status),
    Interrupted,
}

impl ShownStatus {
    /// A run's: a `running`/`pending` run whose process is gone is
    /// `interrupted`. `live` is only asked when it matters.
    pub(crate) fn of_run(recorded: Status, live: impl FnOnce() -> bool) -> ShownStatus {
        if MAY_BE_LIVE.contains(&recorded) && !live() {
            ShownStatus::Interrupted
        } else {
            ShownStatus::Recorded(recorded)
        }
    }

    /// A step's, given its run's: `cached` when served from the cache,
    /// `waiting` while its approval is open, `interrupted` when its run's
    /// process died under it.
    pub(crate) fn of_step(
        recorded: Status,
        cached: bool,
        approval_open: bool,
        run: ShownStatus,
    ) -> ShownStatus {
        if cached {
            ShownStatus::Recorded(Status::Cached)
        } else if recorded == Status::Pending && approval_open {
            ShownStatus::Recorded(Status::Waiting)
        } else if run == ShownStatus::Interrupted
            && matches!(recorded, Status::Running | Status::Retrying)
        {
            ShownStatus::Interrupted
        } else {
            ShownStatus::Recorded(recorded)
        }
    }

    #[cfg(test)]
    /// The shown status whose text is `s` (`interrupted` or a status).
    pub(crate) fn parse(s: &str) -> Option<ShownStatus> {
        match s {
            "interrupted" => Some(ShownStatus::Interrupted),
            s => parse(s).map(ShownStatus::Recorded),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ShownStatus::Recorded(s) => s.as_str(),
            ShownStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for ShownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use Status::*;

    #[test]
    fn every_status_round_trips() {
        // A new status must be added to ALL: this match stops compiling.
        fn listed(s: Status) -> bool {
            match s {
                Pending | Running | Retrying | Waiting | Succeeded | Failed | Skipped | Cached
                | Cancelled | Compensated => ALL.contains(&s),
            }
        }
        let conn = Connection::open_in_memory().unwrap();
        for s in ALL {
            assert!(listed(s));
            assert_eq!(parse(s.as_str()), Some(s));
            assert_eq!(
                ShownStatus::parse(s.as_str()),
                Some(ShownStatus::Recorded(s))
            );
            let back: Status = conn.query_row("SELECT ?1", [s], |r| r.get(0)).unwrap();
            assert_eq!(back, s);
            let text: String = conn.query_row("SELECT ?1", [s], |r| r.get(0)).unwrap();
            assert_eq!(text, s.as_str());
        }
    }

    #[test]
    fn unknown_text_is_an_error_not_a_panic() {
        let conn = Connection::open_in_memory().unwrap();
        let e = conn
            .query_row("SELECT 'exploded'", [], |r| r.get::<_, Status>(0))
            .unwrap_err();
        let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = e else {
            panic!("{e:?}");
        };
        assert_eq!(inner.to_string(), "unknown status `exploded`");
        assert_eq!(parse("interrupted"), None);
        assert_eq!(
            ShownStatus::parse("interrupted"),
            Some(ShownStatus::Interrupted)
        );
        assert!(conn
            .query_row("SELECT 7", [], |r| r.get::<_, Status>(0))
            .is_err());
    }

    #[test]
    fn runs_show_interrupted_asking_liveness_only_when_needed() {
        let of = |s, live| ShownStatus::of_run(s, || live).as_str();
        assert_eq!(of(Running, false), "interrupted");
        assert_eq!(of(Pending, false), "interrupted");
        assert_eq!(of(Running, true), "running");
        assert_eq!(
            ShownStatus::of_run(Failed, || panic!("not asked for a finished run")).as_str(),
            "failed"
        );
    }

    #[test]
    fn steps_show_their_run() {
        let run = ShownStatus::Recorded;
        let of = |s, cached, open, r| ShownStatus::of_step(s, cached, open, r).as_str();
        assert_eq!(of(Pending, false, true, run(Waiting)), "waiting");
        assert_eq!(of(Pending, false, false, run(Waiting)), "pending");
        assert_eq!(of(Cached, true, false, run(Succeeded)), "cached");
        assert_eq!(
            of(Running, false, false, ShownStatus::Interrupted),
            "interrupted"
        );
        assert_eq!(
            of(Retrying, false, false, ShownStatus::Interrupted),
            "interrupted"
        );
        assert_eq!(of(Running, false, false, run(Running)), "running");
    }
}
