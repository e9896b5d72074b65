//! The server side of the SASL mechanisms fjord serves: PLAIN (users from the JAAS options, as
//! Kafka's PlainLoginModule), SCRAM-SHA-256/512 ([`super::scram`], credentials from the
//! metadata) and OAUTHBEARER with unsecured JSON Web Tokens (Kafka's
//! OAuthBearerUnsecuredValidatorCallbackHandler, for local development). Each exchange is a
//! [`Exchange`] fed the client's tokens one by one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::jaas::{self, JaasEntry};
use super::scram::{self, ScramCredential, ScramMechanism, ScramServer};
use crate::config::Config;

/// A SASL mechanism fjord serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
    OAuthBearer,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Plain,
        Mechanism::Scram(ScramMechanism::Sha256),
        Mechanism::Scram(ScramMechanism::Sha512),
        Mechanism::OAuthBearer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(m) => m.name(),
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Where an exchange finds what it checks a client against.
pub trait Credentials {
    /// PLAIN's password of a user (the JAAS `user_<name>` option).
    fn plain_password(&self, user: &str) -> Option<String>;
    /// A user's stored SCRAM credential.
    fn scram(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential>;
}

/// What a step of an exchange produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this challenge; the client answers with another token.
    Continue(Vec<u8>),
    /// Authenticated: the user (principal name), the last token to send, and when the
    /// credential itself expires (an OAUTHBEARER token's `exp`), in ms since the epoch.
    Done {
        user: String,
        response: Vec<u8>,
        expires_at_ms: Option<i64>,
    },
}

/// A failed authentication, with the message SaslAuthenticate's error_message carries (it
/// names no secret).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SaslError(pub String);

/// OAUTHBEARER's unsecured validator options (JAAS options of the OAUTHBEARER login module,
/// Kafka's names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsecuredValidator {
    /// `unsecuredValidatorPrincipalClaimName` (default `sub`).
    pub principal_claim: String,
    /// `unsecuredValidatorScopeClaimName` (default `scope`).
    pub scope_claim: String,
    /// `unsecuredValidatorRequiredScope`: space- or comma-separated scopes the token must have.
    pub required_scope: Vec<String>,
    /// `unsecuredValidatorAllowableClockSkewMs` (default 0).
    pub clock_skew_ms: i64,
}

impl Default for UnsecuredValidator {
    fn default() -> Self {
        UnsecuredValidator {
            principal_claim: "sub".into(),
            scope_claim: "scope".into(),
            required_scope: Vec::new(),
            clock_skew_ms: 0,
        }
    }
}

impl UnsecuredValidator {
    pub fn from_jaas(entry: Option<&JaasEntry>) -> Result<UnsecuredValidator, String> {
        let mut v = UnsecuredValidator::default();
        let Some(entry) = entry else { return Ok(v) };
        let opt = |k: &str| entry.options.get(k).filter(|s| !s.trim().is_empty());
        if let Some(c) = opt("unsecuredValidatorPrincipalClaimName") {
            v.principal_claim = c.trim().to_string();
        }
        if let Some(c) = opt("unsecuredValidatorScopeClaimName") {
            v.scope_claim = c.trim().to_string();
        }
        if let Some(s) = opt("unsecuredValidatorRequiredScope") {
            v.required_scope = s
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
        }
        if let Some(s) = opt("unsecuredValidatorAllowableClockSkewMs") {
            v.clock_skew_ms = s
                .trim()
                .parse()
                .ok()
                .filter(|&ms: &i64| ms >= 0)
                .ok_or("unsecuredValidatorAllowableClockSkewMs must be a number >= 0")?;
        }
        Ok(v)
    }

    /// Check an unsecured JWS (`header.payload.` with `"alg":"none"`): the principal claim,
    /// `exp` (required, seconds) and `iat` against `now_ms`, and the required scopes.
    /// Returns the principal name and the expiry in ms.
    pub fn validate(&self, token: &str, now_ms: i64) -> Result<(String, i64), String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWS of three parts".into());
        };
        if !signature.is_empty() {
            return Err("the token is signed; only unsecured tokens are accepted".into());
        }
        let json = |part: &str, what: &str| -> Result<serde_json::Map<String, Value>, String> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part.trim_end_matches('='))
                .map_err(|_| format!("the token's {what} is not base64url"))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(format!("the token's {what} is not a JSON object")),
            }
        };
        let header = json(header, "header")?;
        if header.get("alg").and_then(Value::as_str) != Some("none") {
            return Err("the token's header must say \"alg\":\"none\"".into());
        }
        let claims = json(payload, "claims")?;
        let principal = claims
            .get(&self.principal_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("the token has no '{}' claim", self.principal_claim))?;
        let seconds = |name: &str| -> Result<Option<i64>, String> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(|s| Some((s * 1000.0) as i64))
                    .ok_or_else(|| format!("the token's '{name}' claim is not a number")),
            }
        };
        let exp = seconds("exp")?.ok_or("the token has no 'exp' claim")?;
        if now_ms >= exp.saturating_add(self.clock_skew_ms) {
            return Err("the token has expired".into());
        }
        if let Some(iat) = seconds("iat")?
            && iat > now_ms.saturating_add(self.clock_skew_ms)
        {
            return Err("the token was issued in the future".into());
        }
        if !self.required_scope.is_empty() {
            let scopes: Vec<&str> = match claims.get(&self.scope_claim) {
                Some(Value::String(s)) => s.split(' ').collect(),
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if let Some(missing) = self
                .required_scope
                .iter()
                .find(|r| !scopes.contains(&r.as_str()))
            {
                return Err(format!("the token lacks the required scope '{missing}'"));
            }
        }
        Ok((principal.to_string(), exp))
    }
}

enum State {
    Plain,
    Scram(ScramServer),
    OAuth {
        validator: UnsecuredValidator,
        /// The reason of a refused token: the client acknowledges the error challenge with a
        /// lone %x01, then the exchange fails (RFC 7628).
        refused: Option<String>,
    },
    Over,
}

/// One client's authentication exchange with one mechanism.
pub struct Exchange {
    mechanism: Mechanism,
    state: State,
}

impl Exchange {
    pub fn new(mechanism: Mechanism, oauth: UnsecuredValidator) -> Exchange {
        let state = match mechanism {
            Mechanism::Plain => State::Plain,
            Mechanism::Scram(m) => State::Scram(ScramServer::new(m)),
            Mechanism::OAuthBearer => State::OAuth {
                validator: oauth,
                refused: None,
            },
        };
        Exchange { mechanism, state }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Take the client's next token.
    pub fn step(
        &mut self,
        token: &[u8],
        credentials: &dyn Credentials,
        now_ms: i64,
    ) -> Result<Outcome, SaslError> {
        let failed = |what: &str| {
            SaslError(format!(
                "Authentication failed during authentication due to invalid credentials with SASL mechanism {}{what}",
                self.mechanism.name()
            ))
        };
        match std::mem::replace(&mut self.state, State::Over) {
            State::Plain => {
                let invalid =
                    || SaslError("Authentication failed: Invalid username or password".into());
                let text = std::str::from_utf8(token).map_err(|_| invalid())?;
                let mut parts = text.split('\0');
                let (Some(authzid), Some(user), Some(password), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(SaslError(
                        "Invalid SASL/PLAIN response: expected 3 tokens".into(),
                    ));
                };
                if user.is_empty() {
                    return Err(SaslError(
                        "Authentication failed: username not specified".into(),
                    ));
                }
                if !authzid.is_empty() && authzid != user {
                    return Err(SaslError(
                        "Authentication failed: Client requested an authorization id that is different from username".into(),
                    ));
                }
                match credentials.plain_password(user) {
                    Some(want) if scram::constant_time_eq(want.as_bytes(), password.as_bytes()) => {
                        Ok(Outcome::Done {
                            user: user.to_string(),
                            response: Vec::new(),
                            expires_at_ms: None,
                        })
                    }
                    _ => Err(invalid()),
                }
            }
            State::Scram(mut server) => {
                let m = match self.mechanism {
                    Mechanism::Scram(m) => m,
                    _ => unreachable!("a SCRAM state has a SCRAM mechanism"),
                };
                match server.step(token, |u| credentials.scram(u, m), &scram::random_nonce()) {
                    Ok(scram::Step::Continue(challenge)) => {
                        self.state = State::Scram(server);
                        Ok(Outcome::Continue(challenge))
                    }
                    Ok(scram::Step::Done { user, message }) => Ok(Outcome::Done {
                        user,
                        response: message,
                        expires_at_ms: None,
                    }),
                    Err(scram::ScramError::InvalidCredentials(_)) => Err(failed("")),
                    Err(e) => Err(SaslError(e.to_string())),
                }
            }
            State::OAuth { validator, refused } => {
                if let Some(reason) = refused {
                    return Err(failed(&format!(": {reason}")));
                }
                let token = bearer_token(token)
                    .ok_or_else(|| SaslError("Invalid OAUTHBEARER client first message".into()))?;
                match validator.validate(token, now_ms) {
                    Ok((user, exp)) => Ok(Outcome::Done {
                        user,
                        response: Vec::new(),
                        expires_at_ms: Some(exp),
                    }),
                    Err(reason) => {
                        let challenge = format!(
                            "{{\"status\":\"invalid_token\",\"scope\":\"{}\"}}",
                            validator.required_scope.join(" ")
                        );
                        self.state = State::OAuth {
                            validator,
                            refused: Some(reason),
                        };
                        Ok(Outcome::Continue(challenge.into_bytes()))
                    }
                }
            }
            State::Over => Err(SaslError("the SASL exchange is already over".into())),
        }
    }
}

/// How a broker logs in to another's SASL listener (inter-broker SASL): Kafka takes the
/// mechanism from `sasl.mechanism.inter.broker.protocol` and the `username` / `password`
/// options of that mechanism's JAAS entry on the inter-broker listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientLogin {
    pub mechanism: Mechanism,
    pub user: String,
    pub password: String,
}

impl ClientLogin {
    /// The login a JAAS entry describes for `mechanism` (PLAIN or SCRAM).
    pub fn from_jaas(mechanism: Mechanism, entry: &JaasEntry) -> Result<ClientLogin, String> {
        if mechanism == Mechanism::OAuthBearer {
            return Err(
                "OAUTHBEARER can't be the inter-broker mechanism; use PLAIN or SCRAM".into(),
            );
        }
        let opt = |k: &str| {
            entry
                .options
                .get(k)
                .cloned()
                .ok_or_else(|| format!("its {} JAAS entry has no {k} option", mechanism.name()))
        };
        Ok(ClientLogin {
            mechanism,
            user: opt("username")?,
            password: opt("password")?,
        })
    }

    /// The client side of one exchange: the first token, then [`ClientExchange::step`] for
    /// each challenge.
    pub fn start(&self) -> (ClientExchange, Vec<u8>) {
        match self.mechanism {
            Mechanism::Scram(m) => {
                let (client, first) = scram::ScramClient::start(
                    m,
                    &self.user,
                    &self.password,
                    &scram::random_nonce(),
                );
                (ClientExchange::Scram(Box::new(client), false), first)
            }
            _ => {
                let token = format!("\0{}\0{}", self.user, self.password).into_bytes();
                (ClientExchange::Plain, token)
            }
        }
    }
}

/// How this node logs in to the other brokers: `None` when their inter-broker listener is
/// not a SASL one; an error when its settings can't log in (checked at start-up).
pub fn inter_broker_login(config: &Config) -> Result<Option<ClientLogin>, String> {
    let Some(cluster) = &config.cluster else {
        return Ok(None);
    };
    let listener = &cluster.inter_broker_listener;
    let sasl = config
        .listeners
        .iter()
        .any(|l| &l.name == listener && l.protocol.sasl());
    if !sasl {
        return Ok(None);
    }
    let name = config
        .get("sasl.mechanism.inter.broker.protocol")
        .unwrap_or("PLAIN")
        .trim();
    let mechanism = Mechanism::from_name(name)
        .ok_or_else(|| format!("sasl.mechanism.inter.broker.protocol: {name} is not served"))?;
    let text = config.jaas_config(listener, mechanism.name()).ok_or_else(|| {
        format!(
            "the inter-broker listener {listener} needs listener.name.{}.{}.sasl.jaas.config with the username and password brokers log in with",
            listener.to_ascii_lowercase(),
            mechanism.name().to_ascii_lowercase()
        )
    })?;
    let entry = jaas::parse(text)?;
    ClientLogin::from_jaas(mechanism, &entry)
        .map(Some)
        .map_err(|e| format!("the inter-broker listener {listener}: {e}"))
}

/// A broker's login in progress.
pub enum ClientExchange {
    Plain,
    /// The SCRAM client, and whether its final message was sent.
    Scram(Box<scram::ScramClient>, bool),
}

impl ClientExchange {
    /// The server's answer to our last token: the next token to send, or `None` when the
    /// login is complete.
    pub fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslError> {
        match self {
            ClientExchange::Plain => Ok(None),
            ClientExchange::Scram(client, sent_final) => {
                if *sent_final {
                    client
                        .verify_server_final(server)
                        .map_err(|e| SaslError(e.to_string()))?;
                    Ok(None)
                } else {
                    *sent_final = true;
                    client
                        .client_final(server)
                        .map(Some)
                        .map_err(|e| SaslError(e.to_string()))
                }
            }
        }
    }
}

/// The bearer token of an OAUTHBEARER client initial response (RFC 7628):
/// `n,,\x01auth=Bearer <token>\x01…\x01\x01`.
fn bearer_token(message: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(message).ok()?;
    let (gs2, rest) = text.split_once('\x01')?;
    if !gs2.starts_with("n,") && !gs2.starts_with("y,") {
        return None;
    }
    rest.split('\x01')
        .find_map(|kv| kv.strip_prefix("auth="))
        .and_then(|auth| {
            let (scheme, token) = auth.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Users;
    impl Credentials for Users {
        fn plain_password(&self, user: &str) -> Option<String> {
            (user == "alice").then(|| "alice-secret".into())
        }
        fn scram(&self, user: &str, m: ScramMechanism) -> Option<ScramCredential> {
            (user == "bob").then(|| ScramCredential::from_password(m, "bob-pw", b"salty", 4096))
        }
    }

    fn plain(token: &[u8]) -> Result<Outcome, SaslError> {
        Exchange::new(Mechanism::Plain, UnsecuredValidator::default()).step(token, &Users, 0)
    }

    #[test]
    fn plain_checks_the_jaas_users() {
        let ok = plain(b"\0alice\0alice-secret").unwrap();
        assert!(matches!(ok, Outcome::Done { ref user, .. } if user == "alice"));
        assert!(plain(b"alice\0alice\0alice-secret").is_ok());
        for bad in [
            &b"\0alice\0wrong"[..],
            b"\0mallory\0alice-secret",
            b"bob\0alice\0alice-secret",
            b"\0\0x",
            b"justone",
            b"\0a\0b\0c",
            b"\xff\0\xfe\0",
        ] {
            assert!(plain(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            plain(b"\0alice\0wrong").unwrap_err().0,
            "Authentication failed: Invalid username or password"
        );
    }

    #[test]
    fn scram_runs_through_the_exchange() {
        let m = ScramMechanism::Sha256;
        let mut ex = Exchange::new(Mechanism::Scram(m), UnsecuredValidator::default());
        let Outcome::Continue(first) = ex.step(b"n,,n=bob,r=clientnonce", &Users, 0).unwrap()
        else {
            panic!("expected a challenge");
        };
        let first = String::from_utf8(first).unwrap();
        let nonce = first.split(',').next().unwrap().strip_prefix("r=").unwrap();
        // The client's side of RFC 5802, computed here from the password.
        let salted = m.salted_password(b"bob-pw", b"salty", 4096);
        let cred = ScramCredential::from_salted_password(m, b"salty", &salted, 4096);
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("n=bob,r=clientnonce,{first},{without_proof}");
        let sig = {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&cred.stored_key).unwrap();
            mac.update(auth.as_bytes());
            mac.finalize().into_bytes().to_vec()
        };
        let client_key = {
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&salted).unwrap();
            mac.update(b"Client Key");
            mac.finalize().into_bytes().to_vec()
        };
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(proof);
        let done = ex
            .step(format!("{without_proof},p={b64}").as_bytes(), &Users, 0)
            .unwrap();
        assert!(matches!(done, Outcome::Done { ref user, .. } if user == "bob"));

        let mut ex = Exchange::new(Mechanism::Scram(m), UnsecuredValidator::default());
        let err = ex.step(b"n,,n=alice,r=x", &Users, 0).unwrap_err();
        assert!(
            err.0
                .contains("invalid credentials with SASL mechanism SCRAM-SHA-256")
        );
    }

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    fn bearer(token: &str) -> Vec<u8> {
        format!("n,,\x01auth=Bearer {token}\x01\x01").into_bytes()
    }

    #[test]
    fn oauthbearer_accepts_an_unexpired_unsecured_token() {
        let now = 1_700_000_000_000;
        let token = jwt(r#"{"sub":"carol","exp":1700000060.5,"iat":1700000000,"scope":"a b"}"#);
        let mut ex = Exchange::new(Mechanism::OAuthBearer, UnsecuredValidator::default());
        assert_eq!(
            ex.step(&bearer(&token), &Users, now).unwrap(),
            Outcome::Done {
                user: "carol".into(),
                response: Vec::new(),
                expires_at_ms: Some(1_700_000_060_500)
            }
        );
    }

    #[test]
    fn oauthbearer_refuses_bad_tokens_after_the_error_challenge() {
        let now = 1_700_000_000_000;
        let scoped = UnsecuredValidator {
            required_scope: vec!["write".into()],
            ..UnsecuredValidator::default()
        };
        for (token, validator, why) in [
            (
                jwt(r#"{"sub":"c","exp":1699999999}"#),
                UnsecuredValidator::default(),
                "expired",
            ),
            (
                jwt(r#"{"exp":1800000000}"#),
                UnsecuredValidator::default(),
                "no 'sub'",
            ),
            (
                jwt(r#"{"sub":"c"}"#),
                UnsecuredValidator::default(),
                "no 'exp'",
            ),
            (
                jwt(r#"{"sub":"c","exp":1800000000,"scope":"read"}"#),
                scoped,
                "scope 'write'",
            ),
            (
                format!("{}x", jwt(r#"{"sub":"c","exp":1800000000}"#)),
                UnsecuredValidator::default(),
                "signed",
            ),
            (
                format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
                    URL_SAFE_NO_PAD.encode(r#"{"sub":"c","exp":1800000000}"#)
                ),
                UnsecuredValidator::default(),
                "alg",
            ),
            (
                "not-a-jwt".to_string(),
                UnsecuredValidator::default(),
                "three parts",
            ),
        ] {
            let mut ex = Exchange::new(Mechanism::OAuthBearer, validator);
            let Outcome::Continue(challenge) = ex.step(&bearer(&token), &Users, now).unwrap()
            else {
                panic!("{why}: expected the error challenge");
            };
            assert!(
                String::from_utf8(challenge)
                    .unwrap()
                    .contains("invalid_token")
            );
            let err = ex.step(b"\x01", &Users, now).unwrap_err();
            assert!(err.0.contains(why), "{why}: {}", err.0);
        }
        let mut ex = Exchange::new(Mechanism::OAuthBearer, UnsecuredValidator::default());
        assert!(ex.step(b"garbage", &Users, now).is_err());
    }

    #[test]
    fn a_broker_logs_in_with_its_jaas_username_and_password() {
        let entry = super::super::jaas::parse(
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"bob\" password=\"bob-pw\";",
        )
        .unwrap();
        for mechanism in [Mechanism::Plain, Mechanism::Scram(ScramMechanism::Sha512)] {
            let login = ClientLogin::from_jaas(mechanism, &entry).unwrap();
            let users = if mechanism == Mechanism::Plain {
                struct Bob;
                impl Credentials for Bob {
                    fn plain_password(&self, u: &str) -> Option<String> {
                        (u == "bob").then(|| "bob-pw".into())
                    }
                    fn scram(&self, _: &str, _: ScramMechanism) -> Option<ScramCredential> {
                        None
                    }
                }
                Box::new(Bob) as Box<dyn Credentials>
            } else {
                Box::new(Users) as Box<dyn Credentials>
            };
            let mut server = Exchange::new(mechanism, UnsecuredValidator::default());
            let (mut client, mut token) = login.start();
            loop {
                match server.step(&token, users.as_ref(), 0).unwrap() {
                    Outcome::Continue(challenge) => {
                        token = client.step(&challenge).unwrap().expect("a next token");
                    }
                    Outcome::Done { user, response, .. } => {
                        assert_eq!(user, "bob");
                        assert_eq!(client.step(&response).unwrap(), None);
                        break;
                    }
                }
            }
        }
        let empty = super::super::jaas::parse("M required;").unwrap();
        assert!(
            ClientLogin::from_jaas(Mechanism::Plain, &empty)
                .unwrap_err()
                .contains("username")
        );
    }

    #[test]
    fn validator_options_come_from_jaas() {
        let entry = super::super::jaas::parse(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
             unsecuredValidatorRequiredScope=\"a b\" unsecuredValidatorAllowableClockSkewMs=\"500\" \
             unsecuredValidatorPrincipalClaimName=\"user\";",
        )
        .unwrap();
        let v = UnsecuredValidator::from_jaas(Some(&entry)).unwrap();
        assert_eq!(v.required_scope, ["a", "b"]);
        assert_eq!(v.clock_skew_ms, 500);
        assert_eq!(v.principal_claim, "user");
    }
}
