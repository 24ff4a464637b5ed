//! Canonical scope and origin names, and scope normalisation.

/// Scope of a single IP address.
pub const IP: &str = "Ip";
/// Scope of a CIDR range.
pub const RANGE: &str = "Range";
/// Scope of an autonomous system number.
pub const AS: &str = "AS";
/// Scope of a country code.
pub const COUNTRY: &str = "Country";

/// Source scope of the alert holding community-blocklist decisions pulled from CAPI.
pub const COMMUNITY_BLOCKLIST: &str = "crowdsecurity/community-blocklist";

/// Decision origin: the agent through profiles.
pub const ORIGIN_CROWDSEC: &str = "crowdsec";
/// Decision origin: added with `cscli decisions add`.
pub const ORIGIN_CSCLI: &str = "cscli";
/// Decision origin: the console (PAPI).
pub const ORIGIN_CONSOLE: &str = "console";
/// Decision origin: `cscli decisions import`.
pub const ORIGIN_CSCLI_IMPORT: &str = "cscli-import";
/// Decision origin: a CAPI blocklist subscription.
pub const ORIGIN_LISTS: &str = "lists";
/// Decision origin: the community blocklist.
pub const ORIGIN_CAPI: &str = "CAPI";
/// Decision origin: remediation sync.
pub const ORIGIN_REMEDIATION_SYNC: &str = "remediation_sync";

/// Normalises the four well-known scopes case-insensitively (`ip` → `Ip`, `range` → `Range`,
/// `as` → `AS`, `country` → `Country`); any other scope is returned unchanged.
///
/// ```
/// assert_eq!(cs_models::scope::normalize("IP"), "Ip");
/// assert_eq!(cs_models::scope::normalize("username"), "username");
/// ```
pub fn normalize(scope: &str) -> &str {
    if scope.eq_ignore_ascii_case(IP) {
        IP
    } else if scope.eq_ignore_ascii_case(RANGE) {
        RANGE
    } else if scope.eq_ignore_ascii_case(AS) {
        AS
    } else if scope.eq_ignore_ascii_case(COUNTRY) {
        COUNTRY
    } else {
        scope
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalizes_only_known_scopes() {
        for (input, expected) in [
            ("ip", "Ip"),
            ("iP", "Ip"),
            ("RANGE", "Range"),
            ("as", "AS"),
            ("country", "Country"),
            ("Username", "Username"),
            ("", ""),
        ] {
            assert_eq!(normalize(input), expected);
        }
    }
}
