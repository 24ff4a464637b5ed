//! What distinguishes the bucket kinds: `trigger` overflows on every event, `conditional` when
//! its condition holds after a pour, `bayesian` when its posterior passes the threshold.
//! `leaky` and `counter` are the plain pour (token bucket, wall-clock lifetime) of the engine.

pub(crate) mod bayesian;
pub(crate) mod conditional;
pub(crate) mod trigger;
