//! `stash:` entries: values stored into named caches that `GetFromStash` reads back.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cs_types::Event;

use crate::expr::{Expr, Output};

/// A compiled stash entry.
#[derive(Debug)]
pub(crate) struct Stash {
    pub(crate) store: Arc<cs_expr_helpers::stash::Stash>,
    pub(crate) name: String,
    pub(crate) key: Expr,
    pub(crate) value: Expr,
    pub(crate) ttl: chrono::TimeDelta,
}

impl Stash {
    /// Stores `value` under `key`; both must evaluate to strings, else nothing is stored.
    pub(crate) fn apply(&self, evt: &mut Event, now: DateTime<Utc>) {
        let key = match self.key.eval(evt) {
            Ok(Output::Str(k)) => k,
            other => {
                tracing::trace!(stash = %self.name, result = ?other, "stash key is not a string");
                return;
            }
        };
        let value = match self.value.eval(evt) {
            Ok(Output::Str(v)) => v,
            other => {
                tracing::trace!(stash = %self.name, result = ?other, "stash value is not a string");
                return;
            }
        };
        self.store
            .set(&self.name, &key, &value, Some(self.ttl), now);
    }
}
