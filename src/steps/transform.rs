//! `transform` steps: values computed from expressions. Nothing runs; the
//! values are the step's outputs.

use std::path::Path;

use serde_json::{Map, Value as Json};

use crate::expr::Scope;
use crate::model::{Step, StepKind};

use super::{Attempt, AttemptCx, AttemptFuture, Body, ResolveCx, StepError, StepExecutor};

pub(crate) struct Transform;

impl StepExecutor for Transform {
    fn kind(&self) -> &'static str {
        "transform"
    }

    fn resolve(
        &self,
        step: &Step,
        scope: &Scope<'_>,
        _cx: &ResolveCx<'_>,
    ) -> Result<Box<dyn Body>, StepError> {
        let StepKind::Transform(fields) = &step.body.kind else {
            return Err(StepError::wrong_kind(step, self.kind()));
        };
        let values = super::resolve_named(fields, scope, "transform")?;
        Ok(Box::new(Values(values)))
    }
}

/// The evaluated values.
#[derive(Debug)]
struct Values(Map<String, Json>);

impl Body for Values {
    fn definition(&self, def: &mut Map<String, Json>, _project_dir: &Path) {
        def.insert("values".into(), Json::Object(self.0.clone()));
    }

    fn attempt<'a>(&'a self, _cx: &'a AttemptCx<'a>) -> AttemptFuture<'a> {
        Box::pin(async move {
            Attempt {
                outputs: self.0.clone(),
                ..Attempt::ok()
            }
        })
    }
}
