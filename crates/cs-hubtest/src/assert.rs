//! Evaluation of assert files: one expression per non-empty line over `results`.

use cs_expr::{Environment, Value};

/// An assertion that evaluated to `false`.
#[derive(Debug, Clone, PartialEq)]
pub struct AssertFailure {
    /// 1-based line in the assert file.
    pub line: usize,
    /// The expression as evaluated (after the `datasource_path` rewrite).
    pub expression: String,
    /// The left operand of `==` and its actual value, when the line has that shape.
    pub debug: Vec<(String, String)>,
}

/// An assertion that could not be evaluated (compile or runtime error, non-boolean result):
/// upstream stops judging the file there and the test fails.
#[derive(Debug, Clone, PartialEq)]
pub struct AssertError {
    /// 1-based line in the assert file (0 when the file itself is the problem).
    pub line: usize,
    /// The expression.
    pub expression: String,
    /// What went wrong.
    pub message: String,
}

/// The verdicts of one assert file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssertReport {
    /// Assertions evaluated.
    pub evaluated: usize,
    /// Assertions that were false.
    pub failures: Vec<AssertFailure>,
    /// Assertions that were false but do not fail the file: upstream only records a failure
    /// when it can show the left operand of `==` (the line has that shape and the operand
    /// evaluates), so `"1.2.3.4" in results[0].Overflow.GetSources()` never fails a test.
    pub uncounted: Vec<AssertFailure>,
    /// The assertion that stopped the evaluation, if any.
    pub error: Option<AssertError>,
}

impl AssertReport {
    /// True when every assertion held.
    pub fn success(&self) -> bool {
        self.failures.is_empty() && self.error.is_none()
    }

    /// The first problem, prefixed with `file`.
    pub(crate) fn first_problem(&self, file: &str) -> Option<String> {
        let first_fail = self.failures.first();
        match (&self.error, first_fail) {
            (Some(e), Some(f)) if f.line < e.line || e.line == 0 => Some(describe_failure(file, f)),
            (Some(e), _) => Some(format!(
                "{file}:{}: error: {} => {}",
                e.line, e.expression, e.message
            )),
            (None, Some(f)) => Some(describe_failure(file, f)),
            (None, None) => None,
        }
    }
}

fn describe_failure(file: &str, f: &AssertFailure) -> String {
    let actual: Vec<String> = f
        .debug
        .iter()
        .map(|(k, v)| format!("{k} = '{v}'"))
        .collect();
    if actual.is_empty() {
        format!("{file}:{}: false: {}", f.line, f.expression)
    } else {
        format!(
            "{file}:{}: false: {} (actual: {})",
            f.line,
            f.expression,
            actual.join(", ")
        )
    }
}

/// Upstream's rewrite of `datasource_path` asserts written without `basename(`: the test
/// folder moves, so only the file name is compared.
pub(crate) fn rewrite(line: &str) -> String {
    if line.contains("datasource_path")
        && !line.contains("basename(")
        && let Some((left, right)) = line.split_once("==")
    {
        return format!("basename({}) == {}", left.trim(), right.trim());
    }
    line.to_owned()
}

/// The left operand shown for a failing `x == y`: the first token (no space, no `=`)
/// directly followed by ` == `, as upstream's `(?P<variable>[^ =]+) == .*` finds it.
fn debug_variable(expression: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(pos) = expression[from..].find(" == ") {
        let at = from + pos;
        let start = expression[..at].rfind([' ', '=']).map_or(0, |i| i + 1);
        if start < at {
            return Some(&expression[start..at]);
        }
        from = at + 1;
    }
    None
}

/// A value as upstream prints it in failure reports (YAML scalars; JSON for structures).
fn show(value: &Value<'_>) -> String {
    match value {
        Value::Str(s) => s.as_str().to_owned(),
        Value::Nil => "null".to_owned(),
        other => other.to_json().to_string(),
    }
}

/// Evaluates every non-empty line of `text` with `results` as the only variable of `env`
/// (an [`Environment::hubtest`] with helpers).
pub(crate) fn evaluate(text: &str, env: &Environment, results: &Value<'_>) -> AssertReport {
    let mut report = AssertReport::default();
    let vars = std::slice::from_ref(results);
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    if lines.is_empty() {
        report.error = Some(AssertError {
            line: 0,
            expression: String::new(),
            message: "the assert file is empty: please fill it".to_owned(),
        });
        return report;
    }
    for (line, source) in lines {
        let expression = rewrite(source);
        let verdict = cs_expr::compile(&expression, env)
            .map_err(|e| format!("compile error: {}", e.message()))
            .and_then(|p| {
                p.eval(vars)
                    .map_err(|e| format!("runtime error: {}", e.message()))
                    .and_then(|v| match v {
                        Value::Bool(b) => Ok(b),
                        other => Err(format!("result is {}, not a bool", other.type_name())),
                    })
            });
        report.evaluated += 1;
        match verdict {
            Ok(true) => {}
            Ok(false) => {
                let debug = debug_variable(&expression).and_then(|var| {
                    let value = cs_expr::compile(var, env).ok()?.eval(vars).ok()?;
                    Some(vec![(var.to_owned(), show(&value))])
                });
                let counted = debug.is_some();
                let failure = AssertFailure {
                    line,
                    expression,
                    debug: debug.unwrap_or_default(),
                };
                if counted {
                    report.failures.push(failure);
                } else {
                    report.uncounted.push(failure);
                }
            }
            Err(message) => {
                report.error = Some(AssertError {
                    line,
                    expression,
                    message,
                });
                break;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn check_variable(expression: &str, expected: Option<&str>) {
        assert_eq!(debug_variable(expression), expected, "{expression}");
    }

    #[test]
    fn debug_variable_is_the_left_operand() {
        check_variable(
            r#"results["a"]["b"][0].Success == true"#,
            Some(r#"results["a"]["b"][0].Success"#),
        );
        check_variable(r#"len(results) == 4"#, Some("len(results)"));
        check_variable(r#""1.2.3.4" in results[0].Overflow.GetSources()"#, None);
        check_variable(r#"a && b == "x y""#, Some("b"));
    }

    #[test]
    fn datasource_path_is_compared_by_basename() {
        assert_eq!(
            rewrite(r#"results[0].Evt.Meta["datasource_path"] == "/x/y.log""#),
            r#"basename(results[0].Evt.Meta["datasource_path"]) == "/x/y.log""#
        );
        let already = r#"basename(results[0].Evt.Meta["datasource_path"]) == "y.log""#;
        assert_eq!(rewrite(already), already);
    }

    fn run(text: &str) -> AssertReport {
        let env = Environment::hubtest();
        let mut map = BTreeMap::new();
        map.insert("a".to_owned(), Value::Int(1));
        evaluate(text, &env, &Value::map(map))
    }

    #[test]
    fn verdicts() {
        let ok = run("results.a == 1\n\nlen(results) == 1\n");
        assert!(ok.success());
        assert_eq!(ok.evaluated, 2);

        let failed = run("results.a == 2\nresults.a == 1\n");
        assert!(!failed.success());
        assert_eq!(failed.failures.len(), 1);
        assert_eq!(failed.failures[0].line, 1);
        assert_eq!(
            failed.failures[0].debug,
            [("results.a".to_owned(), "1".to_owned())]
        );

        let uncounted = run("results.a == 1\nresults.a in [2]\n");
        assert!(uncounted.success());
        let lines: Vec<usize> = uncounted.uncounted.iter().map(|f| f.line).collect();
        assert_eq!(lines, [2]);

        let errored = run("results.a == 1\nresults.a + 1\nresults.a == 2\n");
        let e = errored.error.as_ref().unwrap();
        assert_eq!((e.line, errored.evaluated), (2, 2));
        assert!(errored.failures.is_empty());
        assert!(
            errored
                .first_problem("p")
                .unwrap()
                .starts_with("p:2: error")
        );

        let empty = run("\n \n");
        assert_eq!(empty.error.unwrap().line, 0);
    }
}
