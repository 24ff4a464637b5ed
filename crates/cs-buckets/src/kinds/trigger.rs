//! `trigger`: every event overflows at once (upstream's `Trigger` processor).

use std::sync::Arc;

use cs_types::{Event, ExpectMode, GoTime, Leaky, Queue};

/// Records `evt` as the only event of the bucket, at its log time in time-machine mode (the
/// wall clock, `now`, when that is unparsable) or at `now` in live mode. The bucket then
/// overflows.
pub(crate) fn pour(
    leaky: &mut Leaky,
    queue: &mut Queue,
    mode: ExpectMode,
    evt: Arc<Event>,
    now: &dyn Fn() -> GoTime,
) {
    let t = match mode {
        ExpectMode::TimeMachine => {
            crate::engine::parse_time(&evt.marshaled_time).unwrap_or_else(now)
        }
        ExpectMode::Live => now(),
    };
    leaky.first_ts = t;
    leaky.last_ts = t;
    leaky.ovflw_ts = t;
    leaky.total_count = 1;
    queue.add(evt);
}
