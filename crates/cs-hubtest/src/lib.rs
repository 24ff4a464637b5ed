//! The hub test runner (`cscli hubtest run`): replays one `.tests/<name>` folder of a CrowdSec
//! hub through the parsers, scenarios and postoverflows it lists, and judges its
//! `parser.assert` / `scenario.assert` lines with the expression engine.
//!
//! Upstream runs a `crowdsec` process per test and reads back its `-dump-data` files; this
//! runner keeps everything in memory but builds the same `results` values:
//!
//! * `parser.assert`: `results[stage][node][i]` with `Idx`, `Evt`, `Success` (every evaluation
//!   of a top-level node, postoverflow stages included, plus the fake `success` stage);
//! * `scenario.assert`: the overflow events, sorted descending by scenario name followed by the
//!   `@`-joined source keys.
//!
//! Judging follows upstream: a compile or runtime error stops the file and fails the test; a
//! false line fails it only when its left operand of `==` can be shown (other false lines are
//! kept in [`AssertReport::uncounted`]); an empty or missing assert file that should be
//! evaluated fails the test. `datasource_path` lines without `basename(` compare base names.
//!
//! Nothing is written into the hub: the only file a test needs (the `override_statics` node)
//! goes into a temporary work directory. "Now" is injectable ([`HubOptions::now`]) because
//! year-less log dates take the current year and upstream's asserts embed the year they were
//! written in.
//!
//! ```no_run
//! use cs_hubtest::{Hub, HubOptions};
//!
//! # fn main() -> Result<(), cs_hubtest::Error> {
//! let hub = Hub::open("hub".as_ref(), HubOptions::default())?;
//! let names = hub.test_names()?;
//! for report in hub.run_tests(&names, 2) {
//!     println!("{} {}", report.name, if report.success() { "ok" } else { "FAIL" });
//! }
//! # Ok(())
//! # }
//! ```

mod assert;
mod config;
mod error;
mod hub;
mod report;
mod run;

pub use assert::{AssertError, AssertFailure, AssertReport};
pub use config::TestConfig;
pub use error::{Error, Result};
pub use hub::{Hub, HubOptions, NOW_ENV};
pub use report::TestReport;
