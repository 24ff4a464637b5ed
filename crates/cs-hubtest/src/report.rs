//! The outcome of one test.

use crate::assert::AssertReport;

/// What happened to one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestReport {
    /// The test folder name.
    pub name: String,
    /// Why the test could not be run (missing item, load error...), if it could not.
    pub error: Option<String>,
    /// The `parser.assert` verdicts; `None` when not evaluated (`ignore_parsers`).
    pub parser: Option<AssertReport>,
    /// The `scenario.assert` verdicts; `None` when the test lists no scenario.
    pub scenario: Option<AssertReport>,
}

impl TestReport {
    /// A test that could not be run.
    pub fn errored(name: &str, error: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            error: Some(error.into()),
            parser: None,
            scenario: None,
        }
    }

    /// Upstream's verdict: the test ran, and every evaluated assert file holds only true lines.
    pub fn success(&self) -> bool {
        self.error.is_none()
            && self.parser.as_ref().is_none_or(AssertReport::success)
            && self.scenario.as_ref().is_none_or(AssertReport::success)
    }

    /// A one-line reason for a failure: the run error, else the first failing or erroring
    /// assertion of `parser.assert`, then of `scenario.assert`.
    pub fn first_problem(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        [
            ("parser.assert", &self.parser),
            ("scenario.assert", &self.scenario),
        ]
        .into_iter()
        .find_map(|(file, r)| r.as_ref().and_then(|r| r.first_problem(file)))
    }
}
