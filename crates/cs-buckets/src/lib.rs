//! CrowdSec scenarios and leaky buckets: loading scenario YAML, pouring events into bucket
//! instances, and turning overflows into alerts.
//!
//! The engine reproduces upstream's `pkg/leakybucket`: the five bucket kinds (`leaky`,
//! `trigger`, `counter`, `conditional`, `bayesian`), the token-bucket maths of Go's
//! `x/time/rate`, `distinct`, `cancel_on`, `overflow_filter`, `blackhole`, scopes, and the
//! `RuntimeAlert` shape the output routine sends to the Local API.
//!
//! It never reads the system clock: live buckets and the wall-clock timers upstream keeps even
//! in replay (counter durations, bucket expiry) use the injected [`cs_expr::Clock`]; the
//! caller calls [`BucketEngine::tick`] to fire the timers that are due.
//!
//! ## Bounded bucket memory
//!
//! Upstream keeps a bucket until its wall-clock expiry timer fires, even when a replay has
//! long moved past it in log time, so replaying a log with millions of distinct sources
//! holds millions of buckets. This engine evicts (see [`BucketEngine::collect_garbage`]),
//! whenever the number of buckets has doubled since the previous collection (and is at least
//! 4 096), every time-machine bucket that can no longer change an alert:
//!
//! - buckets already replaced by a fresher bucket of the same key (their next event in log time
//!   came after their lifetime);
//! - buckets whose lifetime in log time (`last event + capacity × leakspeed`, or `duration`)
//!   ended before the latest event time seen; the next event of their key would replace them.
//!
//! Counters (`duration` overflows on the wall clock) and live buckets are never evicted, and
//! the timers of evicted buckets are dropped with them. Upstream would only have sent an
//! alert-less "bucket is dead" notification for these buckets, so alerts do not change as long
//! as the log is in time order (an event older than the latest one, for a key whose bucket
//! was evicted, starts a new bucket where upstream would have reused the old one). Evictions are
//! counted per scenario ([`EngineStats::evicted`], `cs_bucket_evicted_total{name}`);
//! [`EngineOptions::garbage_collect`] turns eviction off.
//!
//! ```
//! use std::sync::Arc;
//!
//! use cs_buckets::{BucketEngine, Compiler, LoadOptions};
//! use cs_expr::ManualClock;
//! use cs_expr_helpers::Helpers;
//! use cs_types::Event;
//!
//! let clock = Arc::new(ManualClock::new(chrono::Utc::now().fixed_offset()));
//! let compiler = Compiler::new(Helpers::new(), clock.clone());
//! let yaml = "type: leaky\nname: me/ssh-bf\ndescription: brute force\n\
//!             filter: evt.Meta.log_type == 'ssh_failed-auth'\ngroupby: evt.Meta.source_ip\n\
//!             capacity: 1\nleakspeed: 10s\nblackhole: 1m\n";
//! let scenarios = cs_buckets::load_str("ssh-bf.yaml", yaml, &compiler, &LoadOptions::default())
//!     .map_err(|errors| errors[0].to_string())?;
//! let mut engine = BucketEngine::new(scenarios, clock.clone());
//!
//! let mut evt = Event::new_log("Failed password for root from 192.0.2.1", "file");
//! evt.set_meta("log_type", "ssh_failed-auth");
//! evt.set_meta("source_ip", "192.0.2.1");
//! let mut overflows = Vec::new();
//! engine.pour(&evt, &mut overflows)?; // live mode: times come from the clock
//! engine.pour(&evt, &mut overflows)?; // capacity 1: the second event overflows
//! let alert = overflows[0].overflow.alert.as_ref().expect("an alert");
//! assert_eq!(alert.get_scenario(), "me/ssh-bf");
//! assert_eq!(alert.get_value(), "192.0.2.1");
//!
//! // Wall-clock timers (underflows, counters) fire when the daemon ticks the engine.
//! clock.advance(chrono::TimeDelta::minutes(5));
//! engine.tick(&mut overflows);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alert;
mod config;
mod context;
mod engine;
mod error;
mod expr;
mod kinds;
mod limiter;
mod scenario;
mod verdicts;

pub use config::{BayesianConditionConfig, DataSourceConfig, ScenarioConfig, ScopeConfig};
pub use context::{AlertContext, ContextSources, MAX_CONTEXT_VALUE_LENGTH, read_context_files};
pub use engine::{BucketEngine, EngineOptions, EngineStats};
pub use error::{Error, Result};
pub use expr::Compiler;
pub use scenario::{BucketKind, LoadOptions, Scenario, load_file, load_str};
pub use verdicts::{Prefilter, Scratch, Verdicts};
