//! The key tables of `docs/reference.md`, rendered from the key tables and
//! spliced between `<!-- keys:ID begin -->` and `<!-- keys:ID end -->`.

use super::{
    walk, Key, Role, Support, Table, Ty, APPROVAL, CACHE, CALL, DEFAULTS, HTTP, INPUT,
    ORCHESTRATION, RETRY, SERVICE, STEP, WORKFLOW,
};

/// A generated section that cannot be put in place.
#[derive(Debug, thiserror::Error)]
pub enum SpliceError {
    #[error("no `<!-- keys:{0} begin -->` … `<!-- keys:{0} end -->` markers")]
    Missing(&'static str),
    #[error("the markers of `keys:{0}` name no generated section")]
    Unknown(String),
}

/// `text` (the reference) with every generated section replaced by what the
/// key tables give now. The reference is in sync when this returns it as is.
pub fn splice_reference(text: &str) -> Result<String, SpliceError> {
    let sections = sections();
    for (at, _) in text.match_indices("<!-- keys:") {
        let id = text[at + "<!-- keys:".len()..]
            .split(' ')
            .next()
            .unwrap_or_default();
        if !sections.iter().any(|(s, _)| *s == id) {
            return Err(SpliceError::Unknown(id.to_string()));
        }
    }
    let mut out = text.to_string();
    for (id, body) in sections {
        let begin = format!("<!-- keys:{id} begin -->\n");
        let end = format!("<!-- keys:{id} end -->");
        let start = out.find(&begin).ok_or(SpliceError::Missing(id))? + begin.len();
        let stop = start + out[start..].find(&end).ok_or(SpliceError::Missing(id))?;
        out.replace_range(start..stop, &body);
    }
    Ok(out)
}

/// Every generated section: its id and its Markdown.
fn sections() -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = [&WORKFLOW, &DEFAULTS, &INPUT]
        .into_iter()
        .map(|t| (t.id, keys_table(t)))
        .collect();
    out.push(("step-kinds", kinds_table()));
    out.extend(
        [
            &STEP,
            &HTTP,
            &CALL,
            &APPROVAL,
            &CACHE,
            &RETRY,
            &ORCHESTRATION,
            &SERVICE,
        ]
        .into_iter()
        .map(|t| (t.id, keys_table(t))),
    );
    out.push(("not-supported", not_supported_table()));
    out.push(("no-effect", no_effect_table()));
    out
}

/// `| key | type | default | meaning |`, with nested tables that have no
/// section of their own as `key.sub` rows.
fn keys_table(t: &'static Table) -> String {
    let mut s = String::from("| key | type | default | meaning |\n|---|---|---|---|\n");
    rows(&mut s, t, "");
    s
}

fn rows(s: &mut String, t: &'static Table, prefix: &str) {
    for k in t.keys.iter().filter(|k| k.role != Role::Kind) {
        let name = format!("{prefix}{}", k.name);
        row(
            s,
            &[
                &format!("`{name}`"),
                &ty_text(&k.ty, true),
                &default_text(t, k),
                &meaning(k),
            ],
        );
        let sep = if matches!(k.ty, Ty::List { .. }) {
            "[]"
        } else {
            ""
        };
        for sub in k.ty.tables().into_iter().filter(|t| t.section.is_none()) {
            rows(s, sub, &format!("{name}{sep}."));
        }
    }
}

fn kinds_table() -> String {
    let mut s = String::from("| kind | value | does |\n|---|---|---|\n");
    for k in STEP.with_role(Role::Kind) {
        row(
            &mut s,
            &[&format!("`{}`", k.name), &ty_text(&k.ty, true), &meaning(k)],
        );
    }
    s
}

/// Every key that is refused as not supported yet, wherever it is.
fn not_supported_table() -> String {
    let mut s = String::from("| key | in | shape | intended meaning |\n|---|---|---|---|\n");
    let none = walk(&WORKFLOW)
        .iter()
        .all(|(_, t, _)| t.keys.iter().all(|k| k.support != Support::NotYet));
    if none {
        return "None: every key of this version runs.\n".to_string();
    }
    for (_, t, _) in walk(&WORKFLOW) {
        for k in t.keys.iter().filter(|k| k.support == Support::NotYet) {
            row(
                &mut s,
                &[
                    &format!("`{}`", k.name),
                    t.what,
                    &ty_text(&k.ty, true),
                    k.doc,
                ],
            );
        }
    }
    s
}

/// The settings of `orchestration.yaml` that are validated and then ignored.
fn no_effect_table() -> String {
    let mut s = String::from("| setting | type | meaning |\n|---|---|---|\n");
    for (path, t, parent) in walk(&ORCHESTRATION) {
        if parent.is_some_and(|p| p.support == Support::NoEffect) {
            continue;
        }
        for k in t.keys.iter().filter(|k| k.support == Support::NoEffect) {
            row(
                &mut s,
                &[
                    &format!("`{}{}`", path, k.name),
                    &ty_text(&k.ty, true),
                    k.doc,
                ],
            );
        }
    }
    s
}

fn row(s: &mut String, cells: &[&str]) {
    s.push('|');
    for c in cells {
        s.push(' ');
        s.push_str(&c.replace('|', "\\|"));
        s.push_str(" |");
    }
    s.push('\n');
}

fn default_text(t: &Table, k: &Key) -> String {
    if k.required {
        return "required".into();
    }
    if let Some(g) = t
        .groups
        .iter()
        .find(|g| g.required && g.keys.contains(&k.name))
    {
        let names: Vec<String> = g.keys.iter().map(|n| format!("`{n}`")).collect();
        return format!("one of {}", names.join("/"));
    }
    k.default.unwrap_or("—").to_string()
}

fn meaning(k: &Key) -> String {
    match k.support {
        Support::Supported => k.doc.to_string(),
        Support::NoEffect => format!("**no effect yet**: {}", k.doc),
        Support::NotYet => format!(
            "**not supported yet** ([below](#kinds-and-keys-that-are-not-supported-yet)): {}",
            k.doc
        ),
    }
}

/// How the reference names a type; `top` when it is a key's own.
fn ty_text(ty: &Ty, top: bool) -> String {
    match ty {
        Ty::Str => "string".into(),
        Ty::Name {
            pattern: Some(p), ..
        } if top => format!("string, `{p}`"),
        Ty::Name { noun, .. } => noun.to_string(),
        Ty::Template if top => "string (may hold expressions)".into(),
        Ty::Template => "string with `${{ }}`".into(),
        Ty::Expr if top => "expression, with or without `${{ }}`".into(),
        Ty::Expr => "expression".into(),
        Ty::Int { min: Some(m) } => format!("integer ≥ {m}"),
        Ty::Int { min: None } => "integer".into(),
        Ty::Number { min } => format!("number ≥ {min}"),
        Ty::Bool => "boolean".into(),
        Ty::Duration if top => "[duration](#durations)".into(),
        Ty::Duration => "duration".into(),
        Ty::Any if top => "any value".into(),
        Ty::Any => "value".into(),
        Ty::Enum(values) => super::quoted_or(values),
        Ty::List { of, non_empty } => {
            let what = match of {
                Ty::Object(t) => linked(t, t.plural),
                Ty::Str => "strings".into(),
                _ => "values".into(),
            };
            format!(
                "{}list of {what}",
                if *non_empty { "non-empty " } else { "" }
            )
        }
        Ty::OneOrList(of) => format!("{}, or a list of them", ty_text(of, false)),
        Ty::Map { key, of, non_empty } => format!(
            "{}mapping {} → {}",
            if *non_empty { "non-empty " } else { "" },
            ty_text(key, false),
            ty_text(of, false)
        ),
        Ty::Object(t) if t.section.is_some() => linked(t, t.noun),
        Ty::Object(_) => "mapping".into(),
        Ty::Either(tys) => tys
            .iter()
            .map(|t| ty_text(t, false))
            .collect::<Vec<_>>()
            .join(" or "),
        Ty::StepBody => {
            let body: Vec<String> = STEP
                .with_role(Role::Body)
                .map(|k| format!("`{}`", k.name))
                .collect();
            format!("a step body: one kind key plus {}", body.join(", "))
        }
    }
}

fn linked(t: &Table, text: &str) -> String {
    match t.section {
        Some(anchor) => format!("[{text}](#{anchor})"),
        None => text.to_string(),
    }
}
