//! Machines: registration, login (password or TLS certificate), token refresh, heartbeat, self-deletion.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use cs_models::{WatcherAuthRequest, WatcherAuthResponse, WatcherRegistrationRequest};
use cs_store::{MachineLogin, NewMachine};

use super::{Ctx, empty};
use crate::body::read_json;
use crate::error::{Error, Result, json};
use crate::net::in_ranges;
use crate::tls::{CertRole, cert_role};

/// What the login endpoint answers for unknown machines and wrong passwords alike.
const BAD_CREDENTIALS: &str = "incorrect Username or Password";

/// `POST /v1/watchers`: creates an unvalidated machine (201), or a validated one through
/// auto-registration (202).
pub(crate) async fn register(ctx: Ctx, body: Body) -> Result<Response> {
    let opts = &ctx.state.opts;
    if opts.disable_remote_lapi_registration && !ctx.client.is_local() {
        return Err(Error::Forbidden(
            "remote registration is disabled".to_owned(),
        ));
    }
    let req: WatcherRegistrationRequest = read_json(body, ctx.anon_limit()).await?;
    let machine_id = required(req.machine_id.as_deref(), "machine_id")?;
    let password = required(req.password.as_deref(), "password")?;
    let token = req.registration_token.as_str();
    if !token.is_empty() && !(32..=255).contains(&token.len()) {
        return Err(Error::Unprocessable(
            "registration_token in body should be between 32 and 255 characters long".to_owned(),
        ));
    }
    let mut validated = false;
    if let Some(auto) = opts
        .auto_registration
        .as_ref()
        .filter(|a| a.enabled && !token.is_empty())
    {
        let ip_allowed = ctx
            .client
            .ip
            .is_some_and(|ip| in_ranges(ip, &auto.allowed_ranges));
        if token != auto.token || !ip_allowed {
            tracing::warn!(machine = %machine_id, ip = %ctx.client.ip_string(), "refused auto-registration");
            return Err(Error::Unauthorized(
                "invalid registration token or client IP".to_owned(),
            ));
        }
        validated = true;
    }
    let new = NewMachine {
        machine_id: machine_id.to_owned(),
        password: password.to_owned(),
        ip_address: ctx.client.ip_string(),
        is_validated: validated,
        auth_type: cs_store::AUTH_PASSWORD.to_owned(),
        force: false,
    };
    ctx.state.store.create_machine(&new).await.map_err(|e| {
        if e.is_already_exists() {
            Error::Forbidden(format!("user '{machine_id}': user already exist"))
        } else {
            e.into()
        }
    })?;
    tracing::info!(machine = %machine_id, validated, "machine registered");
    Ok(empty(if validated {
        StatusCode::ACCEPTED
    } else {
        StatusCode::CREATED
    }))
}

fn required<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Unprocessable(format!("{name} in body is required")))
}

fn token_response(token: String, exp: i64) -> Response {
    let expire = DateTime::<Utc>::from_timestamp(exp, 0).unwrap_or_default();
    let body = WatcherAuthResponse {
        code: 200,
        expire: expire.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        token,
    };
    json(StatusCode::OK, &body)
}

/// `POST /v1/watchers/login`: checks the machine and answers a JWT.
pub(crate) async fn login(ctx: Ctx, body: Body) -> Result<Response> {
    let bytes = crate::body::read_bytes(body, ctx.anon_limit()).await?;
    let machine_id = match (&ctx.conn.cert, &ctx.state.opts.tls) {
        (Some(cert), Some(tls)) if cert_role(cert, tls) == Some(CertRole::Agent) => {
            login_with_cert(&ctx, &cert.common_name).await?
        }
        _ => login_with_password(&ctx, &bytes).await?,
    };
    let (token, claims) = ctx.state.jwt.issue(&machine_id, Utc::now().timestamp());
    Ok(token_response(token, claims.exp))
}

async fn login_with_password(ctx: &Ctx, bytes: &[u8]) -> Result<String> {
    let missing = || Error::Unauthorized("missing Username or Password".to_owned());
    let req: WatcherAuthRequest = serde_json::from_slice(bytes).map_err(|_| missing())?;
    let (Some(machine_id), Some(password)) =
        (req.machine_id.filter(|m| !m.is_empty()), req.password)
    else {
        return Err(missing());
    };
    let store = &ctx.state.store;
    let Some(machine) = store.check_machine_password(&machine_id, &password).await? else {
        tracing::warn!(machine = %machine_id, ip = %ctx.client.ip_string(), "failed login");
        return Err(Error::Unauthorized(BAD_CREDENTIALS.to_owned()));
    };
    if machine.auth_type != cs_store::AUTH_PASSWORD {
        return Err(Error::Unauthorized(format!(
            "machine {machine_id} attempted to auth with password but it is configured to use {}",
            machine.auth_type
        )));
    }
    if !machine.is_validated {
        return Err(Error::Unauthorized(format!(
            "machine {machine_id} not validated"
        )));
    }
    let ua = ctx
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = ua.split('/');
    let version = match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(v), None) => v.to_owned(),
        _ => return Err(Error::Unauthorized(format!("bad user agent '{ua}'"))),
    };
    let ip = ctx.client.ip_string();
    let scenarios = req.scenarios.filter(|s| !s.is_empty()).map(|s| s.join(","));
    let login = MachineLogin {
        scenarios,
        ip_address: (machine.ip_address != ip).then_some(ip),
        version: (machine.version != version).then_some(version),
    };
    store.update_machine_login(&machine_id, &login).await?;
    Ok(machine_id)
}

/// A certificate with an agent OU identifies the machine `<CN>@<ip>`, created validated on first use.
async fn login_with_cert(ctx: &Ctx, common_name: &str) -> Result<String> {
    let machine_id = format!("{common_name}@{}", ctx.client.ip_string());
    let store = &ctx.state.store;
    match store.get_machine(&machine_id).await? {
        Some(m) if m.auth_type != cs_store::AUTH_TLS => Err(Error::Unauthorized(format!(
            "machine {machine_id} attempted to auth with TLS cert but it is configured to use {}",
            m.auth_type
        ))),
        Some(_) => Ok(machine_id),
        None => {
            // The password is never used: certificate machines cannot log in with one.
            let password = cs_store::generate_api_key()?;
            let new = NewMachine {
                machine_id: machine_id.clone(),
                password,
                ip_address: ctx.client.ip_string(),
                is_validated: true,
                auth_type: cs_store::AUTH_TLS.to_owned(),
                force: false,
            };
            store.create_machine(&new).await?;
            tracing::info!(machine = %machine_id, "machine created from its TLS certificate");
            Ok(machine_id)
        }
    }
}

/// `GET /v1/refresh_token`: a new token while the original login is less than an hour old.
pub(crate) async fn refresh_token(ctx: Ctx) -> Result<Response> {
    let token = crate::auth::jwt_from_request(&ctx.headers, ctx.query.get("token"))?;
    let (token, claims) = ctx
        .state
        .jwt
        .refresh(token, Utc::now().timestamp())
        .map_err(|e| Error::Unauthorized(e.to_string()))?;
    Ok(token_response(token, claims.exp))
}

/// `GET /v1/heartbeat`: records the machine's heartbeat.
pub(crate) async fn heartbeat(ctx: Ctx) -> Result<Response> {
    let machine_id = ctx.machine()?;
    ctx.state
        .store
        .update_machine_heartbeat(&machine_id, Utc::now())
        .await?;
    Ok(empty(StatusCode::OK))
}

/// `DELETE /v1/watchers/self`: the calling machine unregisters itself.
pub(crate) async fn delete_self(ctx: Ctx) -> Result<Response> {
    let machine_id = ctx.machine()?;
    ctx.state.store.delete_machine(&machine_id).await?;
    tracing::info!(machine = %machine_id, "machine deleted itself");
    Ok(empty(StatusCode::NO_CONTENT))
}
