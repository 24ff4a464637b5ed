//! Decision/alert scopes and their case-insensitive normalisation.

/// Scope of a single IP address.
pub const SCOPE_IP: &str = "Ip";
/// Scope of an IP range (CIDR).
pub const SCOPE_RANGE: &str = "Range";
/// Scope of an autonomous system number.
pub const SCOPE_AS: &str = "AS";
/// Scope of a country code.
pub const SCOPE_COUNTRY: &str = "Country";

/// Normalises the four well-known scopes case-insensitively (`ip` → `Ip`); any other scope
/// is returned unchanged, as upstream does.
pub fn normalize_scope(scope: &str) -> &str {
    [SCOPE_IP, SCOPE_RANGE, SCOPE_AS, SCOPE_COUNTRY]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(scope))
        .unwrap_or(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(normalize_scope(input), expected, "{input}");
    }

    #[test]
    fn known_scopes_are_normalised_others_kept() {
        check("ip", "Ip");
        check("RANGE", "Range");
        check("as", "AS");
        check("country", "Country");
        check("username", "username");
        check("ParentProcessId", "ParentProcessId");
    }
}
