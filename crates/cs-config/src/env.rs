//! `$VAR` / `${VAR}` expansion of configuration text, leaving unset variables untouched.

/// Expands `${NAME}` and `$NAME` with `lookup`, as upstream does on the merged configuration
/// text before decoding it. A variable `lookup` does not know is left exactly as written, so a
/// literal `$` in a password survives when no such variable exists.
pub fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let len = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            (&after[..len], len)
        };
        match (!name.is_empty()).then(|| lookup(name)).flatten() {
            Some(value) => out.push_str(&value),
            None => {
                out.push('$');
                out.push_str(&after[..consumed]);
            }
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// [`expand_with`] on the process environment.
pub fn expand(text: &str) -> String {
    expand_with(text, |k| std::env::var(k).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let lookup = |k: &str| match k {
            "HOME" => Some("/root".to_string()),
            "PORT" => Some("8080".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand_with(input, lookup), expected, "{input}");
    }

    #[test]
    fn set_variables_are_replaced_and_unset_ones_kept() {
        check("dir: ${HOME}/x", "dir: /root/x");
        check("uri: 127.0.0.1:$PORT", "uri: 127.0.0.1:8080");
        check("pw: a$UNSET_VAR", "pw: a$UNSET_VAR");
        check("pw: ${UNSET}", "pw: ${UNSET}");
        check("e: [$EMPTY]", "e: []");
        check("cost: 5$", "cost: 5$");
        check("x: ${unterminated", "x: ${unterminated");
        check("$$PORT", "$8080");
    }
}
