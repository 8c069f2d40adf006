//! `policies.rules` of orchestration.yaml: each rule's `when` sees the step
//! as `step.{id,kind,service,capability,endpoint}`, once per route (the
//! services a call may go to). `deny` takes a route out, and fails the step
//! when none is left; `require_approval` asks before anything runs.

use serde_json::{json, Value as Json};

use crate::expr::Scope;
use crate::model::{PolicyAction, PolicyRule};

/// The step as rules see it, besides the route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub(crate) id: &'a str,
    pub(crate) kind: &'a str,
    /// For a `call` to a capability.
    pub(crate) capability: Option<&'a str>,
    /// For a `call`.
    pub(crate) endpoint: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PolicyError {
    #[error("denied by policy rule `{rule}`: {message}")]
    Denied { rule: String, message: String },
    /// Every route was taken out, yet no rule said so (no route to begin with).
    #[error("denied by policy")]
    NoRoute,
    #[error("policy rule `{rule}`: `when` gave {got}, not true or false")]
    NotBool { rule: String, got: Json },
    #[error("policy rule `{rule}`: {message}")]
    Eval { rule: String, message: String },
}

/// Apply `rules` to `routes` (`None`: a step that goes to no service).
/// Keeps the allowed routes; returns the message of the first
/// `require_approval` rule that matched, or why the step may not run.
pub(crate) fn check(
    rules: &[PolicyRule],
    subject: &Subject<'_>,
    scope: &Scope<'_>,
    routes: &mut Vec<Option<String>>,
) -> Result<Option<String>, PolicyError> {
    if rules.is_empty() {
        return Ok(None);
    }
    let mut approval: Option<String> = None;
    let mut denied: Option<PolicyError> = None;
    let mut keep = Vec::new();
    for route in routes.iter() {
        let view = json!({
            "id": subject.id,
            "kind": subject.kind,
            "service": route,
            "capability": subject.capability,
            "endpoint": subject.endpoint,
        });
        let scope = Scope {
            step: Some(&view),
            ..*scope
        };
        let mut allowed = true;
        for rule in rules {
            let hit = match crate::expr::eval(&rule.when, &scope) {
                Ok(Json::Bool(b)) => b,
                Ok(got) => {
                    return Err(PolicyError::NotBool {
                        rule: rule.id.clone(),
                        got,
                    })
                }
                Err(e) => {
                    return Err(PolicyError::Eval {
                        rule: rule.id.clone(),
                        message: e.message,
                    })
                }
            };
            if !hit {
                continue;
            }
            let message = rule
                .message
                .clone()
                .unwrap_or_else(|| format!("policy rule `{}`", rule.id));
            match rule.action {
                PolicyAction::Deny => {
                    allowed = false;
                    denied.get_or_insert(PolicyError::Denied {
                        rule: rule.id.clone(),
                        message,
                    });
                }
                PolicyAction::RequireApproval => {
                    approval.get_or_insert(message);
                }
            }
        }
        if allowed {
            keep.push(route.clone());
        }
    }
    if keep.is_empty() {
        return Err(denied.unwrap_or(PolicyError::NoRoute));
    }
    *routes = keep;
    Ok(approval)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::expr::StatusFns;

    fn rule(id: &str, when: &str, action: PolicyAction) -> PolicyRule {
        let src = Arc::new(crate::source::Source::new(
            "o.yaml",
            "o.yaml",
            format!(
                "orchestration:\n  policies:\n    rules:\n      - id: {id}\n        when: \"${{{{ {when} }}}}\"\n        action: {}\n",
                match action {
                    PolicyAction::Deny => "deny",
                    PolicyAction::RequireApproval => "require_approval",
                }
            ),
        ));
        let cfg = crate::validate::config::config(&src).expect("config");
        cfg.policies.rules.into_iter().next().expect("a rule")
    }

    fn check_with(
        rules: &[PolicyRule],
        subject: &Subject<'_>,
        routes: &mut Vec<Option<String>>,
    ) -> Result<Option<String>, PolicyError> {
        let no_steps = |_: &str| None;
        let no_secrets = |_: &str| None;
        let scope = Scope {
            inputs: &Json::Null,
            env: &Json::Null,
            run: &Json::Null,
            steps: &no_steps,
            secrets: &no_secrets,
            item: None,
            index: None,
            error: None,
            step: None,
            status: StatusFns::default(),
        };
        check(rules, subject, &scope, routes)
    }

    const CALL: Subject<'static> = Subject {
        id: "ask",
        kind: "call",
        capability: Some("summarize"),
        endpoint: Some("run"),
    };

    #[test]
    fn deny_takes_out_one_route_or_fails_the_step() {
        let rules = [rule("no-b", "step.service == 'b'", PolicyAction::Deny)];
        let mut routes = vec![Some("a".to_string()), Some("b".to_string())];
        assert_eq!(check_with(&rules, &CALL, &mut routes), Ok(None));
        assert_eq!(routes, [Some("a".to_string())]);
        let mut only_b = vec![Some("b".to_string())];
        let e = check_with(&rules, &CALL, &mut only_b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "denied by policy rule `no-b`: policy rule `no-b`"
        );
    }

    #[test]
    fn rules_see_the_step() {
        let rules = [rule(
            "ask-first",
            "step.id == 'ask' && step.kind == 'call' && step.capability == 'summarize' && step.endpoint == 'run'",
            PolicyAction::RequireApproval,
        )];
        let mut routes = vec![Some("a".to_string())];
        assert_eq!(
            check_with(&rules, &CALL, &mut routes),
            Ok(Some("policy rule `ask-first`".to_string()))
        );
        let other = Subject {
            id: "other",
            ..CALL
        };
        assert_eq!(check_with(&rules, &other, &mut routes), Ok(None));
    }

    #[test]
    fn a_rule_that_is_not_a_condition_is_an_error() {
        let rules = [rule("odd", "step.id", PolicyAction::Deny)];
        let e = check_with(&rules, &CALL, &mut vec![None]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "policy rule `odd`: `when` gave \"ask\", not true or false"
        );
    }
}
