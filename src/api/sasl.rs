//! SaslHandshake (key 17, v0–1) and SaslAuthenticate (key 36, v0–2), and the authentication
//! state of a connection ([`Session`]), as Kafka's SaslServerAuthenticator keeps it.
//!
//! On a SASL listener a connection may send only ApiVersions, SaslHandshake and
//! SaslAuthenticate until it has authenticated; anything else closes it. After a handshake v0
//! the client's tokens come as bare length-prefixed frames (no request header), answered the
//! same way; after v1 they come in SaslAuthenticate requests. A failed authentication is
//! answered with SASL_AUTHENTICATION_FAILED and the connection is closed after
//! `connection.failed.authentication.delay.ms`. With `connections.max.reauth.ms` set, a
//! session lasts that long (or until an OAUTHBEARER token expires, if sooner): the client
//! re-authenticates on the same connection (KIP-368) with the same principal, or the next
//! request after expiry closes the connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};

use super::context::{ConnectionInfo, str_bytes};
use crate::broker::Broker;
use crate::config::Config;
use crate::security::Principal;
use crate::security::jaas;
use crate::security::sasl::{Credentials, Exchange, Mechanism, Outcome, UnsecuredValidator};
use crate::security::scram::{ScramCredential, ScramMechanism};

/// A connection as the API layer sees it: what handlers know of it, and where its
/// authentication stands.
pub struct Session {
    pub info: ConnectionInfo,
    auth: Auth,
    /// The principal of the first authentication; a re-authentication must keep it.
    authenticated: Option<Principal>,
    /// Close the connection after answering, this long after (a failed authentication).
    close_after: Option<Duration>,
}

enum Auth {
    /// PLAINTEXT or SSL: nothing to authenticate.
    Open,
    /// Waiting for SaslHandshake.
    Handshake,
    /// A mechanism chosen; `raw`: the handshake was v0, so tokens come unframed.
    Exchanging { exchange: Box<Exchange>, raw: bool },
    /// Authenticated until `expires_at_ms` (ms since the epoch), if the session ends.
    Authenticated { expires_at_ms: Option<i64> },
}

/// Why a connection is closed before its request is handled.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error(
        "{0:?} request before SASL authentication (only ApiVersions and SASL requests are allowed)"
    )]
    Unauthenticated(ApiKey),
    #[error("the SASL session expired and the client did not re-authenticate")]
    Expired,
}

impl Session {
    pub fn new(info: ConnectionInfo) -> Session {
        let auth = if info.protocol.sasl() {
            Auth::Handshake
        } else {
            Auth::Open
        };
        Session {
            info,
            auth,
            authenticated: None,
            close_after: None,
        }
    }

    /// After a handshake v0, the next frame is a bare SASL token.
    pub fn expects_raw_token(&self) -> bool {
        matches!(self.auth, Auth::Exchanging { raw: true, .. })
    }

    /// Largest frame accepted now: `sasl.server.max.receive.size` until a SASL client has
    /// authenticated, else `socket.request.max.bytes`.
    pub fn max_frame(&self, config: &Config) -> i32 {
        let authenticating = matches!(self.auth, Auth::Handshake | Auth::Exchanging { .. });
        if authenticating {
            config
                .listener_value(&self.info.listener, "sasl.server.max.receive.size")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(524_288)
        } else {
            config.socket_request_max_bytes
        }
    }

    /// When set, the connection is closed this long after the response is written.
    pub fn close_after(&self) -> Option<Duration> {
        self.close_after
    }

    /// Whether a request of `key` may be handled now.
    pub fn admits(&self, key: ApiKey, now_ms: i64) -> Result<(), Refused> {
        let sasl_api = matches!(
            key,
            ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
        );
        match &self.auth {
            Auth::Open => Ok(()),
            Auth::Authenticated { expires_at_ms } => match expires_at_ms {
                Some(t) if now_ms >= *t && key != ApiKey::SaslHandshake => Err(Refused::Expired),
                _ => Ok(()),
            },
            Auth::Handshake | Auth::Exchanging { .. } if sasl_api => Ok(()),
            _ => Err(Refused::Unauthenticated(key)),
        }
    }

    fn fail(&mut self, broker: &Broker, mechanism: &str, reason: &str) {
        tracing::info!(
            peer = %self.info.peer,
            listener = %self.info.listener,
            "SASL {mechanism} authentication failed: {reason}"
        );
        let delay = broker
            .config
            .get("connection.failed.authentication.delay.ms")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(100);
        self.close_after = Some(Duration::from_millis(delay));
        self.auth = Auth::Handshake;
    }
}

/// The mechanisms a listener serves: its `sasl.enabled.mechanisms` that fjord knows.
pub fn enabled_mechanisms(config: &Config, listener: &str) -> Vec<Mechanism> {
    config
        .listener_value(listener, "sasl.enabled.mechanisms")
        .unwrap_or("")
        .split(',')
        .filter_map(|m| Mechanism::from_name(m.trim()))
        .collect()
}

/// Check a SASL listener's settings at start-up: known mechanisms, parsable JAAS entries.
/// Returns warnings (a mechanism nobody can log in with); an error stops start-up.
pub fn check_listener(config: &Config, listener: &str) -> Result<Vec<String>, String> {
    let listed = config
        .listener_value(listener, "sasl.enabled.mechanisms")
        .unwrap_or("");
    let mut warnings = Vec::new();
    for name in listed.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let Some(m) = Mechanism::from_name(name) else {
            return Err(format!(
                "listener {listener}: SASL mechanism {name} is not served (fjord serves PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
            ));
        };
        let entry = match config.jaas_config(listener, m.name()) {
            Some(text) => Some(jaas::parse(text).map_err(|e| {
                format!(
                    "listener.name.{}.{}.sasl.jaas.config: {e}",
                    listener.to_ascii_lowercase(),
                    m.name().to_ascii_lowercase()
                )
            })?),
            None => None,
        };
        match m {
            Mechanism::Plain if entry.as_ref().is_none_or(|e| e.plain_users().next().is_none()) => {
                warnings.push(format!(
                    "listener {listener}: PLAIN has no users (set user_<name>=\"<password>\" in listener.name.{}.plain.sasl.jaas.config)",
                    listener.to_ascii_lowercase()
                ))
            }
            Mechanism::OAuthBearer => {
                UnsecuredValidator::from_jaas(entry.as_ref())
                    .map_err(|e| format!("listener {listener}: OAUTHBEARER: {e}"))?;
            }
            _ => {}
        }
    }
    if enabled_mechanisms(config, listener).is_empty() {
        return Err(format!(
            "listener {listener} is a SASL listener but sasl.enabled.mechanisms names no mechanism"
        ));
    }
    Ok(warnings)
}

/// What a SASL exchange checks a client against: the listener's JAAS users (PLAIN) and the
/// cluster's SCRAM credentials.
struct ListenerCredentials<'a> {
    broker: &'a Broker,
    listener: &'a str,
}

impl Credentials for ListenerCredentials<'_> {
    fn plain_password(&self, user: &str) -> Option<String> {
        let text = self.broker.config.jaas_config(self.listener, "PLAIN")?;
        let entry = jaas::parse(text).ok()?;
        entry
            .plain_users()
            .find(|(name, _)| *name == user)
            .map(|(_, pw)| pw.to_string())
    }

    fn scram(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.broker.scram_credential(user, mechanism)
    }
}

pub fn handshake(
    broker: &Arc<Broker>,
    session: &mut Session,
    version: i16,
    req: SaslHandshakeRequest,
) -> SaslHandshakeResponse {
    let enabled = enabled_mechanisms(&broker.config, &session.info.listener);
    let names = enabled.iter().map(|m| str_bytes(m.name())).collect();
    let response = SaslHandshakeResponse::default().with_mechanisms(names);
    match session.auth {
        // First authentication, or KIP-368 re-authentication.
        Auth::Handshake | Auth::Authenticated { .. } => {}
        // Not a SASL listener.
        Auth::Open => return response.with_error_code(E::IllegalSaslState.code()),
        // A second handshake in the middle of an exchange.
        Auth::Exchanging { .. } => {
            session.close_after = Some(Duration::ZERO);
            return response.with_error_code(E::IllegalSaslState.code());
        }
    }
    let wanted = req.mechanism.as_str();
    let Some(mechanism) = enabled.iter().copied().find(|m| m.name() == wanted) else {
        tracing::info!(peer = %session.info.peer, "SASL mechanism {wanted:?} is not enabled on {}", session.info.listener);
        session.close_after = Some(Duration::ZERO);
        return response.with_error_code(E::UnsupportedSaslMechanism.code());
    };
    let jaas_entry = broker
        .config
        .jaas_config(&session.info.listener, mechanism.name())
        .and_then(|t| jaas::parse(t).ok());
    let oauth = UnsecuredValidator::from_jaas(jaas_entry.as_ref()).unwrap_or_default();
    session.auth = Auth::Exchanging {
        exchange: Box::new(Exchange::new(mechanism, oauth)),
        raw: version == 0,
    };
    response
}

/// Feed one client token to the exchange; the answer's token, or the failure.
enum Step {
    Challenge(Vec<u8>),
    Done { response: Vec<u8>, lifetime_ms: i64 },
    Failed(String),
}

fn step(broker: &Broker, session: &mut Session, token: &[u8], reauth_capable: bool) -> Step {
    let Auth::Exchanging { exchange, .. } = &mut session.auth else {
        return Step::Failed("no SASL handshake".into());
    };
    let mechanism = exchange.mechanism();
    let now = broker.clock.now_ms();
    let creds = ListenerCredentials {
        broker,
        listener: &session.info.listener,
    };
    match exchange.step(token, &creds, now) {
        Ok(Outcome::Continue(challenge)) => Step::Challenge(challenge),
        Ok(Outcome::Done {
            user,
            response,
            expires_at_ms,
        }) => {
            let principal = Principal::user(user);
            if let Some(first) = &session.authenticated
                && *first != principal
            {
                let reason = format!(
                    "Cannot change principals during re-authentication from {first} to {principal}"
                );
                session.fail(broker, mechanism.name(), &reason);
                return Step::Failed(reason);
            }
            let reauth_ms = broker
                .config
                .listener_value(&session.info.listener, "connections.max.reauth.ms")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0);
            // KIP-368: a session ends only when re-authentication is configured, at the
            // sooner of the re-authentication interval and the credential's own expiry.
            let lifetime_ms = if reauth_ms > 0 && reauth_capable {
                let until_expiry = expires_at_ms.map_or(i64::MAX, |t| (t - now).max(0));
                reauth_ms.min(until_expiry)
            } else {
                0
            };
            let what = if session.authenticated.is_some() {
                "SASL re-authenticated"
            } else {
                "SASL authenticated"
            };
            tracing::debug!(peer = %session.info.peer, %principal, mechanism = mechanism.name(), lifetime_ms, "{what}");
            session.info.principal = principal.clone();
            session.authenticated = Some(principal);
            session.auth = Auth::Authenticated {
                expires_at_ms: (lifetime_ms > 0).then(|| now + lifetime_ms),
            };
            Step::Done {
                response,
                lifetime_ms,
            }
        }
        Err(e) => {
            session.fail(broker, mechanism.name(), &e.0);
            Step::Failed(e.0)
        }
    }
}

pub fn authenticate(
    broker: &Arc<Broker>,
    session: &mut Session,
    version: i16,
    req: SaslAuthenticateRequest,
) -> SaslAuthenticateResponse {
    let response = SaslAuthenticateResponse::default();
    if !matches!(session.auth, Auth::Exchanging { raw: false, .. }) {
        session.close_after = Some(Duration::ZERO);
        return response
            .with_error_code(E::IllegalSaslState.code())
            .with_error_message(Some(str_bytes(
                "SaslAuthenticate request received without a SaslHandshake",
            )));
    }
    match step(broker, session, &req.auth_bytes, version >= 1) {
        Step::Challenge(c) => response.with_auth_bytes(Bytes::from(c)),
        Step::Done {
            response: r,
            lifetime_ms,
        } => response
            .with_auth_bytes(Bytes::from(r))
            .with_session_lifetime_ms(lifetime_ms),
        Step::Failed(message) => response
            .with_error_code(E::SaslAuthenticationFailed.code())
            .with_error_message(Some(str_bytes(message))),
    }
}

/// A bare token after a v0 handshake: the bare answer (length-prefixed), or `None` when the
/// authentication failed (a v0 client can't be told why; the connection closes).
pub fn raw_token(broker: &Arc<Broker>, session: &mut Session, token: &[u8]) -> Option<Bytes> {
    match step(broker, session, token, false) {
        Step::Challenge(c)
        | Step::Done {
            response: c,
            lifetime_ms: _,
        } => {
            let mut out = Vec::with_capacity(c.len() + 4);
            out.extend_from_slice(&(c.len() as i32).to_be_bytes());
            out.extend_from_slice(&c);
            Some(Bytes::from(out))
        }
        Step::Failed(_) => None,
    }
}
