//! Who calls the JSON API and the console. Without an authorizer (`authorizer.class.name`
//! empty) nobody logs in: the caller is `User:ANONYMOUS`, as on a PLAINTEXT Kafka listener. With
//! one, every call carries HTTP Basic credentials, checked against the broker's SCRAM
//! credentials (any stored mechanism), and the caller is `User:<name>`, authorized by the same
//! authorizer as Kafka requests. /metrics, /health and /ready stay open.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::error::ApiError;
use crate::broker::Broker;
use crate::security::Principal;
use crate::security::scram::ScramMechanism;

/// The address of an HTTP client (the `ConnectInfo` the listener records: ACL host rules apply
/// to it).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// The principal and address of an HTTP caller.
pub struct Caller {
    pub principal: Principal,
    pub peer: SocketAddr,
}

/// A refused login: 401 with the Basic challenge, so a browser asks for a name and password.
pub struct Unauthorized(ApiError);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"fjord\", charset=\"UTF-8\""),
        );
        r
    }
}

/// The user name and password of an `Authorization: Basic ...` header.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, b64) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = B64.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Whether `password` is `user`'s under any SCRAM mechanism the broker stores for them.
fn check_password(broker: &Broker, user: &str, password: &str) -> bool {
    ScramMechanism::ALL.iter().any(|m| {
        broker
            .scram_credential(user, *m)
            .is_some_and(|c| c.verify_password(password))
    })
}

impl FromRequestParts<Arc<Broker>> for Caller {
    type Rejection = Unauthorized;

    async fn from_request_parts(
        parts: &mut Parts,
        broker: &Arc<Broker>,
    ) -> Result<Caller, Unauthorized> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<Peer>>()
            .map(|c| c.0.0)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        if !broker.security.authorizer.enabled() {
            return Ok(Caller {
                principal: Principal::anonymous(),
                peer,
            });
        }
        let refused = |m: &str| {
            Unauthorized(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "SASL_AUTHENTICATION_FAILED",
                m,
            ))
        };
        let Some(value) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(refused(
                "log in with HTTP Basic credentials of a SCRAM user (the broker has an authorizer)",
            ));
        };
        let Some((user, password)) = basic_credentials(value) else {
            return Err(refused("the Authorization header is not HTTP Basic"));
        };
        // PBKDF2 with the credential's iterations: off the runtime's worker threads.
        let b = broker.clone();
        let u = user.clone();
        let ok = tokio::task::spawn_blocking(move || check_password(&b, &u, &password))
            .await
            .unwrap_or(false);
        if !ok {
            return Err(refused(
                "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM",
            ));
        }
        Ok(Caller {
            principal: Principal::user(user),
            peer,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header() {
        let v = format!("Basic {}", B64.encode("alice:pa:ss"));
        assert_eq!(
            basic_credentials(&v),
            Some(("alice".to_string(), "pa:ss".to_string()))
        );
        assert_eq!(
            basic_credentials(&format!("basic {}", B64.encode("bob:"))),
            Some(("bob".to_string(), String::new()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(
            basic_credentials(&format!("Basic {}", B64.encode("nocolon"))),
            None
        );
        assert_eq!(basic_credentials("Basic"), None);
    }
}
