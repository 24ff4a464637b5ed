//! DSNs given to `crowdsec -dsn`: `scheme://target?key=value&key2=value2`.

use crate::error::{Error, Result};

/// A parsed DSN. The target keeps its text as given (for `file://` a path or glob pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    raw: String,
    scheme: String,
    target: String,
    params: Vec<(String, String)>,
}

impl Dsn {
    /// Splits a DSN into scheme, target and query parameters.
    pub fn parse(dsn: &str) -> Result<Dsn> {
        let invalid = |reason: &str| Error::InvalidDsn {
            dsn: dsn.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = dsn
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://…"))?;
        if scheme.is_empty() {
            return Err(invalid("empty scheme"));
        }
        let (target, query) = match rest.split_once('?') {
            Some((t, q)) => (t, Some(q)),
            None => (rest, None),
        };
        let mut params = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((k.to_owned(), v.to_owned()));
        }
        Ok(Dsn {
            raw: dsn.to_owned(),
            scheme: scheme.to_owned(),
            target: target.to_owned(),
            params,
        })
    }

    /// The DSN as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The scheme (`file`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// What follows `scheme://`, without the query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Query parameters, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// An error about parameter `key`.
    pub(crate) fn parameter_error(&self, key: &str, reason: impl Into<String>) -> Error {
        Error::Parameter {
            dsn: self.raw.clone(),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scheme, target and parameters expected from a DSN.
    type Parts<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

    fn check(dsn: &str, expected: Option<Parts<'_>>) {
        match (Dsn::parse(dsn), expected) {
            (Ok(d), Some((scheme, target, params))) => {
                assert_eq!(d.scheme(), scheme);
                assert_eq!(d.target(), target);
                let got: Vec<(&str, &str)> = d
                    .params()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                assert_eq!(got, params);
            }
            (Err(_), None) => {}
            (got, want) => panic!("{dsn}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn dsns_split_into_scheme_target_and_params() {
        check(
            "file:///var/log/auth.log",
            Some(("file", "/var/log/auth.log", &[])),
        );
        check(
            "file:///var/log/*.log?log_level=debug&max_buffer_size=42",
            Some((
                "file",
                "/var/log/*.log",
                &[("log_level", "debug"), ("max_buffer_size", "42")],
            )),
        );
        check("/var/log/auth.log", None);
        check("://x", None);
    }
}
