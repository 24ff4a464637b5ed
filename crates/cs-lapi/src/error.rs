//! The server's error type: every handler failure maps to upstream's status code and JSON body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the LAPI, both at start-up and while answering requests.
///
/// Request-time variants carry the message upstream returns; internal causes are logged and answered
/// with a generic message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Request body or query is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// JWT authentication failed (401, `{"code":401,"message":...}`).
    #[error("{0}")]
    Unauthorized(String),
    /// Credentials refused or access denied (403).
    #[error("{0}")]
    Forbidden(String),
    /// Item not found (404).
    #[error("{0}")]
    NotFound(String),
    /// Request body bigger than the endpoint allows (413).
    #[error("http: request body too large")]
    PayloadTooLarge,
    /// Body decoded but fails validation (422).
    #[error("{0}")]
    Unprocessable(String),
    /// A failure upstream reports with its message and status 500 (unknown filter, profile error...).
    #[error("{0}")]
    Server(String),
    /// A database failure: logged, answered with a generic 500.
    #[error("database error")]
    Store(#[source] cs_store::Error),
    /// Any other internal failure: logged, answered with a generic 500.
    #[error("{context}")]
    Internal {
        /// What was being done.
        context: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A configuration problem found while building the server.
    #[error("{path}: {message}")]
    Config {
        /// The file or key concerned.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The listener could not be bound or served.
    #[error("listening on {addr}")]
    Listen {
        /// The address or socket path.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An internal error from any cause.
    pub(crate) fn internal(
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Internal {
            context,
            source: Box::new(source),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Store(e) => store_status(e),
            Self::Server(_) | Self::Internal { .. } | Self::Config { .. } | Self::Listen { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// Upstream maps "not found" to 404, "already exists" to 403, and everything else to 500; a
/// request the store refuses (bad filter, bad address, bad alert) is a 400 here.
fn store_status(e: &cs_store::Error) -> StatusCode {
    match e {
        cs_store::Error::NotFound { .. } => StatusCode::NOT_FOUND,
        cs_store::Error::AlreadyExists { .. } => StatusCode::FORBIDDEN,
        cs_store::Error::InvalidFilter { .. }
        | cs_store::Error::UnknownFilter { .. }
        | cs_store::Error::InvalidIp { .. }
        | cs_store::Error::InvalidAlert { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Store errors caused by the request (bad filters, unknown rows) whose text the client should see.
fn store_error_is_public(e: &cs_store::Error) -> bool {
    matches!(
        e,
        cs_store::Error::NotFound { .. }
            | cs_store::Error::AlreadyExists { .. }
            | cs_store::Error::InvalidFilter { .. }
            | cs_store::Error::UnknownFilter { .. }
            | cs_store::Error::InvalidIp { .. }
            | cs_store::Error::InvalidAlert { .. }
    )
}

impl From<cs_store::Error> for Error {
    fn from(e: cs_store::Error) -> Self {
        Self::Store(e)
    }
}

/// Content type of every JSON answer, as gin writes it.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A JSON response with gin's content type.
pub(crate) fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_CONTENT_TYPE),
    );
    resp
}

/// Serializes `value` as a JSON response.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(e) => Error::internal("encoding a response", e).into_response(),
    }
}

/// `{"message": ...}` with a status.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    json(status, &cs_models::ErrorResponse::new(text))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Unauthorized(msg) => json(
                status,
                &cs_models::JwtErrorResponse {
                    code: i64::from(status.as_u16()),
                    message: msg.clone(),
                },
            ),
            Self::Store(e) if store_error_is_public(e) => message(status, &e.to_string()),
            Self::Store(e) => {
                tracing::error!(error = %e, "database request failed");
                message(status, "database error")
            }
            Self::Internal { context, source } => {
                tracing::error!(error = %source, "{context}");
                message(status, "internal error")
            }
            Self::Config { .. } | Self::Listen { .. } => {
                tracing::error!(error = %self, "server error");
                message(status, "internal error")
            }
            _ => message(status, &self.to_string()),
        }
    }
}
