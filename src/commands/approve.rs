//! `orch approve RUN STEP` / `orch reject RUN STEP`: record a decision on a
//! waiting approval; `orch resume` then continues the run.

use crate::cli::DecideArgs;
use crate::diag::Diag;
use crate::error::Error;
use crate::exit::Exit;
use crate::history::runs::Verdict;
use crate::history::store::now_ms;
use crate::history::Store;

use super::Context;

pub(crate) fn run(cx: &Context, args: &DecideArgs, approve: bool) -> Result<Exit, Error> {
    let verdict = if approve {
        Verdict::Approved
    } else {
        Verdict::Rejected
    };
    let verb = verdict.as_str();
    let home = cx.home()?;
    let store =
        Store::open_existing(&home)?.ok_or_else(|| Diag::new("history", "no runs recorded yet"))?;
    let run = store.resolve_run(&args.run)?;
    let Some(row) = store.approval(&run.id, &args.step)? else {
        let asked: Vec<String> = store
            .approvals(&run.id)?
            .into_iter()
            .map(|a| a.step_id)
            .collect();
        let d = Diag::new(
            "approval",
            format!(
                "step `{}` of run {} has not asked for an approval",
                args.step, run.id
            ),
        );
        return Err(
            match crate::diag::did_you_mean(&args.step, asked.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None if asked.is_empty() => d.help("this run has no approval steps waiting"),
                None => d.help(format!("approvals in this run: {}", asked.join(", "))),
            }
            .into(),
        );
    };
    if let Some(decision) = &row.decision {
        return Err(Diag::new(
            "approval",
            format!(
                "step `{}` of run {} was already decided: {decision}{}",
                args.step,
                run.id,
                row.decided_by
                    .as_deref()
                    .map(|b| format!(" by {b}"))
                    .unwrap_or_default()
            ),
        )
        .into());
    }
    if let Some(exp) = row.expires_at.filter(|&e| e <= now_ms()) {
        return Err(Diag::new(
            "approval",
            format!(
                "the approval of `{}` timed out at {}",
                args.step,
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_millis(exp as u64)
                )
            ),
        )
        .help(format!(
            "`orch resume {}` fails the step; `orch resume {} --from {}` asks again",
            run.id, run.id, args.step
        ))
        .into());
    }
    let user = crate::settings::user_name(&cx.env);
    let decided =
        store.decide_approval(&run.id, &args.step, verdict, &user, args.comment.as_deref())?;
    if !decided {
        return Err(Diag::new("approval", "someone decided it at the same moment").into());
    }
    if !cx.quiet {
        println!(
            "{verb} `{}` in run {} as {user}\ncontinue with: orch resume {}",
            args.step, run.id, run.id
        );
    }
    Ok(Exit::Success)
}
