//! `condition` (the `conditional` kind, honoured on any kind): overflow when it holds after a
//! pour (upstream's `ConditionalOverflow` processor).

use cs_types::{Event, Leaky, Queue};

use crate::expr::{Expr, Outcome};

/// Evaluates the condition after `evt` was poured; on true, stamps the overflow time (the last
/// pour's) and returns true. Errors and non-bool results count as false, as upstream.
pub(crate) fn after_pour(
    scenario: &str,
    condition: &Expr,
    evt: &Event,
    queue: &Queue,
    leaky: &mut Leaky,
) -> bool {
    match condition.eval_condition(evt, queue, leaky) {
        Ok(Outcome::Bool(true)) => {
            leaky.ovflw_ts = leaky.last_ts;
            true
        }
        Ok(Outcome::Bool(false)) => false,
        Ok(_) => {
            tracing::warn!(scenario, "overflow condition returned a non-bool");
            false
        }
        Err(e) => {
            tracing::error!(scenario, error = %e, "unable to run conditional filter");
            false
        }
    }
}
