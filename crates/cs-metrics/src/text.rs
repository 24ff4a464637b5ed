//! A reader of the Prometheus text exposition format (what `cscli metrics` scrapes): samples
//! with their labels, `# TYPE` lines kept so histograms can be told apart.

use crate::Error;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name as written (`cs_parsing_time_seconds_bucket` for a histogram bucket).
    pub name: String,
    /// Label pairs in the order written.
    pub labels: Labels,
    /// The value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn err(line: usize, reason: impl Into<String>) -> Error {
    Error::Parse {
        line,
        reason: reason.into(),
    }
}

fn parse_value(s: &str, line: usize) -> Result<f64, Error> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s
            .parse()
            .map_err(|_| err(line, format!("invalid value {s:?}"))),
    }
}

/// Parses labels from just after `{`; returns them and the rest after `}`.
/// Label pairs in the order written.
pub type Labels = Vec<(String, String)>;

fn parse_labels(mut s: &str, line: usize) -> Result<(Labels, &str), Error> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or_else(|| err(line, "label without '='"))?;
        let name = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| err(line, "label value not quoted"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(err(line, "unterminated label value")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err(err(line, "unterminated label value")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name, value));
        s = s[end + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        }
    }
}

/// Parses an exposition into its samples; `# HELP`/`# TYPE` lines and comments are skipped.
pub fn parse(text: &str) -> Result<Vec<Sample>, Error> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let name_end = l
            .find(|c: char| c == '{' || c.is_whitespace())
            .ok_or_else(|| err(n, "sample without value"))?;
        let name = l[..name_end].to_string();
        let (labels, rest) = if l[name_end..].starts_with('{') {
            parse_labels(&l[name_end + 1..], n)?
        } else {
            (Vec::new(), &l[name_end..])
        };
        let value = rest
            .split_whitespace()
            .next()
            .ok_or_else(|| err(n, "sample without value"))?;
        out.push(Sample {
            name,
            labels,
            value: parse_value(value, n)?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, Metrics};

    #[test]
    fn reads_back_what_the_registry_renders() {
        let m = Metrics::new("1.0");
        m.parser_hits_ok
            .with(["/var/log/a \"b\".log", "syslog"])
            .inc_by(3);
        m.parsing_time.with(["syslog", "x"]).observe(0.002);
        let samples = parse(&m.render(Level::Full)).unwrap();
        let s = samples
            .iter()
            .find(|s| s.name == "cs_parser_hits_ok_total")
            .unwrap();
        assert_eq!(s.label("source"), Some("/var/log/a \"b\".log"));
        assert_eq!(s.value, 3.0);
        let inf = samples
            .iter()
            .find(|s| s.name == "cs_parsing_time_seconds_bucket" && s.label("le") == Some("+Inf"))
            .unwrap();
        assert_eq!(inf.value, 1.0);
    }

    #[test]
    fn go_client_forms_and_errors() {
        let s = parse(
            "go_gc_duration_seconds{quantile=\"0.5\"} 1.2e-05\nup 1 1700000000\nx{a=\"1\",} +Inf\n",
        )
        .unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].value, 1.2e-05);
        assert_eq!(s[1].labels, vec![]);
        assert!(s[2].value.is_infinite());
        assert!(matches!(
            parse("x{a=1} 2"),
            Err(Error::Parse { line: 1, .. })
        ));
        assert!(matches!(
            parse("ok 1\nx abc"),
            Err(Error::Parse { line: 2, .. })
        ));
    }
}
