//! Authentication of the two kinds of clients: machines (JWT) and bouncers (`X-Api-Key` or a TLS client
//! certificate), with upstream's side effects (bouncer IP/type/version tracking, `name@ip` rows).

use axum::http::{HeaderMap, Method, header};
use cs_store::{Bouncer, NewBouncer};

use crate::error::{Error, Result};
use crate::net::{Client, ConnInfo};
use crate::server::AppState;
use crate::tls::{CertRole, cert_role};

/// Answer to any bouncer authentication failure, as upstream.
const ACCESS_FORBIDDEN: &str = "access forbidden";

/// The machine id carried by a valid JWT (`Authorization: Bearer`, then `?token=`, then cookie `jwt`).
pub(crate) fn machine_from_jwt(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<String> {
    let token = jwt_from_request(headers, query_token)?;
    let claims = state
        .jwt
        .verify(token, chrono::Utc::now().timestamp())
        .map_err(|e| Error::Unauthorized(e.to_string()))?;
    Ok(claims.id)
}

/// The raw token, or the error gin-jwt reports for the last lookup method tried.
pub(crate) fn jwt_from_request<'a>(
    headers: &'a HeaderMap,
    query_token: Option<&'a str>,
) -> Result<&'a str> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let auth = auth.to_str().unwrap_or("");
        return match auth.strip_prefix("Bearer ") {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(Error::Unauthorized("auth header is invalid".to_owned())),
        };
    }
    if let Some(t) = query_token.filter(|t| !t.is_empty()) {
        return Ok(t);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("jwt="))
        .filter(|t| !t.is_empty());
    cookie.ok_or_else(|| Error::Unauthorized("cookie token is empty".to_owned()))
}

/// Splits a `User-Agent` into `(type, version)`: `name/version` with exactly one `/`; anything else is
/// all type with version `N/A`.
pub(crate) fn split_user_agent(ua: &str) -> (String, String) {
    let mut parts = ua.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(t), Some(v), None) => (t.to_owned(), v.to_owned()),
        _ => (ua.to_owned(), "N/A".to_owned()),
    }
}

/// Removes trailing `@<ip>` suffixes from a bouncer name (`fw@1.2.3.4@5.6.7.8` → `fw`).
fn base_bouncer_name(name: &str) -> &str {
    let mut base = name;
    while let Some((head, tail)) = base.rsplit_once('@') {
        if tail.parse::<std::net::IpAddr>().is_err() {
            break;
        }
        base = head;
    }
    base
}

/// Authenticates a bouncer by certificate (when TLS gave one with a bouncer OU) or by `X-Api-Key`.
pub(crate) async fn bouncer(
    state: &AppState,
    conn: &ConnInfo,
    client: Client,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Bouncer> {
    let ip = client.ip_string();
    let found = match (&conn.cert, &state.opts.tls) {
        (Some(cert), Some(tls)) if cert_role(cert, tls) == Some(CertRole::Bouncer) => {
            bouncer_from_cert(state, &cert.common_name, &ip).await?
        }
        _ => bouncer_from_key(state, &ip, method, headers).await?,
    };
    track_bouncer(state, found, &ip, headers).await
}

async fn bouncer_from_cert(state: &AppState, common_name: &str, ip: &str) -> Result<Bouncer> {
    let name = format!("{common_name}@{ip}");
    if let Some(b) = state.store.get_bouncer(&name).await? {
        return Ok(b);
    }
    // The key of a certificate bouncer is never shown to anyone: it only fills the column.
    let api_key = cs_store::generate_api_key()?;
    let new = NewBouncer {
        name,
        api_key,
        ip_address: ip.to_owned(),
        auth_type: cs_store::AUTH_TLS.to_owned(),
        auto_created: true,
    };
    Ok(state.store.create_bouncer(&new).await?)
}

async fn bouncer_from_key(
    state: &AppState,
    ip: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Bouncer> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::Forbidden(ACCESS_FORBIDDEN.to_owned()))?;
    let hash = cs_store::hash_api_key(key);
    let mut candidates = state.store.find_bouncers_by_key_hash(&hash).await?;
    candidates.retain(|b| !b.revoked);
    if *method == Method::HEAD {
        // HEAD requests are cheap liveness probes: any bouncer with the key will do.
        return candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::Forbidden(ACCESS_FORBIDDEN.to_owned()));
    }
    if let Some(i) = candidates.iter().position(|b| b.ip_address == ip) {
        return Ok(candidates.swap_remove(i));
    }
    candidates.retain(|b| b.auth_type == cs_store::AUTH_API_KEY);
    let Some(first) = candidates.first() else {
        return Err(Error::Forbidden(ACCESS_FORBIDDEN.to_owned()));
    };
    if candidates.len() == 1 && first.ip_address.is_empty() {
        return Ok(candidates.swap_remove(0));
    }
    // The same key used from another IP gets its own row, so each caller has its own last_pull.
    let name = format!("{}@{ip}", base_bouncer_name(&first.name));
    if let Some(existing) = state.store.get_bouncer(&name).await? {
        return Ok(existing);
    }
    let new = NewBouncer {
        name,
        api_key: key.to_owned(),
        ip_address: ip.to_owned(),
        auth_type: cs_store::AUTH_API_KEY.to_owned(),
        auto_created: true,
    };
    match state.store.create_bouncer(&new).await {
        Ok(b) => Ok(b),
        // Two first requests racing from the same IP: the loser uses the winner's row.
        Err(e) if e.is_already_exists() => state
            .store
            .get_bouncer(&new.name)
            .await?
            .ok_or_else(|| Error::Forbidden(ACCESS_FORBIDDEN.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// Records the bouncer's IP (first use) and the type/version from its `User-Agent` when they change.
async fn track_bouncer(
    state: &AppState,
    mut b: Bouncer,
    ip: &str,
    headers: &HeaderMap,
) -> Result<Bouncer> {
    if b.ip_address.is_empty() {
        state.store.update_bouncer_ip(&b.name, ip).await?;
        ip.clone_into(&mut b.ip_address);
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (bouncer_type, version) = split_user_agent(ua);
    if b.bouncer_type != bouncer_type || b.version != version {
        state
            .store
            .update_bouncer_type_version(&b.name, &bouncer_type, &version)
            .await?;
        b.bouncer_type = bouncer_type;
        b.version = version;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_split() {
        let check = |ua: &str, t: &str, v: &str| {
            assert_eq!(split_user_agent(ua), (t.to_owned(), v.to_owned()))
        };
        check(
            "crowdsec-firewall-bouncer/-",
            "crowdsec-firewall-bouncer",
            "-",
        );
        check(
            "crowdsec/v1.4.6-6~deb12u1+b1-linux-debian",
            "crowdsec",
            "v1.4.6-6~deb12u1+b1-linux-debian",
        );
        check("curl-probe", "curl-probe", "N/A");
        check("a/b/c", "a/b/c", "N/A");
    }

    #[test]
    fn base_names_drop_ip_suffixes() {
        assert_eq!(base_bouncer_name("fw"), "fw");
        assert_eq!(base_bouncer_name("fw@192.0.2.1"), "fw");
        assert_eq!(base_bouncer_name("fw@192.0.2.1@2001:db8::1"), "fw");
        assert_eq!(base_bouncer_name("me@example"), "me@example");
    }

    #[test]
    fn jwt_lookup_order_and_errors() {
        let mut h = HeaderMap::new();
        assert!(
            matches!(jwt_from_request(&h, None), Err(Error::Unauthorized(m)) if m == "cookie token is empty")
        );
        assert_eq!(jwt_from_request(&h, Some("q")).unwrap(), "q");
        h.insert(header::COOKIE, "a=b; jwt=c".parse().unwrap());
        assert_eq!(jwt_from_request(&h, None).unwrap(), "c");
        h.insert(header::AUTHORIZATION, "Bearer t".parse().unwrap());
        assert_eq!(jwt_from_request(&h, Some("q")).unwrap(), "t");
        h.insert(header::AUTHORIZATION, "Basic x".parse().unwrap());
        assert!(jwt_from_request(&h, None).is_err());
    }
}
