//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka's ScramSaslServer serves
//! them: the stored credential ([`ScramCredential`]) and the server side of one exchange
//! ([`ScramServer`]). Kafka keeps credentials as salt, stored key, server key and iteration
//! count, never the password; so does fjord.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// The two SCRAM mechanisms, with the numbers the Admin API gives them
/// (AlterUserScramCredentials' `mechanism`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The Admin API's number: 1 for SHA-256, 2 for SHA-512 (0 is UNKNOWN).
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.code() == code)
    }

    /// Kafka's bounds on the iteration count of a credential.
    pub const MIN_ITERATIONS: i32 = 4096;
    pub const MAX_ITERATIONS: i32 = 16384;

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("any key length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with HMAC of the mechanism's hash.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec()
            }
            ScramMechanism::Sha512 => {
                pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec()
            }
        }
    }
}

/// A stored SCRAM credential of one user and mechanism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    pub mechanism: ScramMechanism,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl ScramCredential {
    /// The credential of a salted password, as AlterUserScramCredentials sends it (the client
    /// salts the password itself; the broker never sees it).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            mechanism,
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// The credential of a password (tests, and users configured in a file).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let salted = mechanism.salted_password(password.as_bytes(), salt, iterations as u32);
        Self::from_salted_password(mechanism, salt, &salted, iterations)
    }

    /// Whether `password` is the one this credential was made from (HTTP Basic logins to the
    /// console and JSON API): the SCRAM client key's hash against the stored key, compared in
    /// constant time.
    pub fn verify_password(&self, password: &str) -> bool {
        let m = self.mechanism;
        let Ok(iterations) = u32::try_from(self.iterations) else {
            return false;
        };
        let salted = m.salted_password(password.as_bytes(), &self.salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        constant_time_eq(&m.hash(&client_key), &self.stored_key)
    }
}

/// Why an exchange failed; the message goes back to the client in SaslAuthenticate's
/// error_message, so it names no secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("invalid SCRAM message: {0}")]
    Malformed(&'static str),
    #[error(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {0}"
    )]
    InvalidCredentials(&'static str),
}

enum Stage {
    ClientFirst,
    ClientFinal {
        client_first_bare: String,
        server_first: String,
        nonce: String,
        gs2_header: String,
        credential: ScramCredential,
    },
    Done,
}

/// The server side of one SCRAM exchange: client-first → server-first, client-final →
/// server-final. `lookup` finds the stored credential of a user name.
pub struct ScramServer {
    mechanism: ScramMechanism,
    stage: Stage,
    user: Option<String>,
}

/// What a step of the exchange produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge and wait for the client's next message.
    Continue(Vec<u8>),
    /// Authenticated as this user; send the final message.
    Done { user: String, message: Vec<u8> },
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism) -> ScramServer {
        ScramServer {
            mechanism,
            stage: Stage::ClientFirst,
            user: None,
        }
    }

    /// The user named in the client's first message, once it came.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Take the client's next message. `lookup` is asked for the user's credential once;
    /// `server_nonce` is appended to the client's nonce (random in production, fixed in tests).
    pub fn step(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
        server_nonce: &str,
    ) -> Result<Step, ScramError> {
        let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::ClientFirst => {
                let (gs2_header, bare) = split_gs2(text)?;
                let mut user = None;
                let mut client_nonce = None;
                for attr in bare.split(',') {
                    match attr.split_once('=') {
                        Some(("n", v)) => user = Some(decode_saslname(v)?),
                        Some(("r", v)) => client_nonce = Some(v.to_string()),
                        Some(("m", _)) => {
                            return Err(ScramError::Malformed("mandatory extension"));
                        }
                        _ => {} // Extensions (Kafka's tokenauth=…) are ignored.
                    }
                }
                let user = user.ok_or(ScramError::Malformed("no user name"))?;
                let client_nonce = client_nonce.ok_or(ScramError::Malformed("no nonce"))?;
                if client_nonce.is_empty() {
                    return Err(ScramError::Malformed("empty nonce"));
                }
                self.user = Some(user.clone());
                let credential = lookup(&user)
                    .filter(|c| c.mechanism == self.mechanism)
                    .ok_or(ScramError::InvalidCredentials(self.mechanism.name()))?;
                let nonce = format!("{client_nonce}{server_nonce}");
                let server_first = format!(
                    "r={nonce},s={},i={}",
                    B64.encode(&credential.salt),
                    credential.iterations
                );
                self.stage = Stage::ClientFinal {
                    client_first_bare: bare.to_string(),
                    server_first: server_first.clone(),
                    nonce,
                    gs2_header: gs2_header.to_string(),
                    credential,
                };
                Ok(Step::Continue(server_first.into_bytes()))
            }
            Stage::ClientFinal {
                client_first_bare,
                server_first,
                nonce,
                gs2_header,
                credential,
            } => {
                let fail = ScramError::InvalidCredentials(self.mechanism.name());
                let (without_proof, proof) = text
                    .rsplit_once(",p=")
                    .ok_or(ScramError::Malformed("no proof"))?;
                let mut binding = None;
                let mut got_nonce = None;
                for attr in without_proof.split(',') {
                    match attr.split_once('=') {
                        Some(("c", v)) => binding = Some(v),
                        Some(("r", v)) => got_nonce = Some(v),
                        _ => {}
                    }
                }
                let binding = binding.ok_or(ScramError::Malformed("no channel binding"))?;
                if B64.decode(binding).ok().as_deref() != Some(gs2_header.as_bytes()) {
                    return Err(ScramError::Malformed("channel binding differs"));
                }
                // Kafka checks that the client's nonce *ends with* the server's, and
                // librdkafka before 2.x's fix sends its own nonce in front of the server's
                // (kcat 1.7 on Debian does): accept what Kafka accepts.
                if !got_nonce.is_some_and(|n| n.ends_with(nonce.as_str())) {
                    return Err(ScramError::Malformed("nonce differs"));
                }
                let proof = B64
                    .decode(proof)
                    .map_err(|_| ScramError::Malformed("proof is not base64"))?;
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let m = self.mechanism;
                let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
                if proof.len() != client_signature.len() {
                    return Err(fail);
                }
                let client_key: Vec<u8> = proof
                    .iter()
                    .zip(&client_signature)
                    .map(|(a, b)| a ^ b)
                    .collect();
                if !constant_time_eq(&m.hash(&client_key), &credential.stored_key) {
                    return Err(fail);
                }
                let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
                Ok(Step::Done {
                    user: self.user.clone().unwrap_or_default(),
                    message: format!("v={}", B64.encode(server_signature)).into_bytes(),
                })
            }
            Stage::Done => Err(ScramError::Malformed("exchange already complete")),
        }
    }
}

/// The client side of one exchange, for a broker logging in to another (inter-broker SASL).
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: String,
    client_first_bare: String,
    nonce: String,
    /// Set once the server-first message came: what the server's final message must say.
    expected_server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// The client and its first message.
    pub fn start(
        mechanism: ScramMechanism,
        user: &str,
        password: &str,
        nonce: &str,
    ) -> (ScramClient, Vec<u8>) {
        let name = user.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = format!("n={name},r={nonce}");
        let first = format!("n,,{client_first_bare}").into_bytes();
        let client = ScramClient {
            mechanism,
            password: password.to_string(),
            client_first_bare,
            nonce: nonce.to_string(),
            expected_server_signature: None,
        };
        (client, first)
    }

    /// Answer the server-first message with the client-final one.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text =
            std::str::from_utf8(server_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attr in text.split(',') {
            match attr.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = B64.decode(v).ok(),
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let nonce = nonce
            .filter(|n| n.starts_with(&self.nonce) && n.len() > self.nonce.len())
            .ok_or(ScramError::Malformed(
                "the server's nonce does not extend ours",
            ))?;
        let salt = salt.ok_or(ScramError::Malformed("no salt"))?;
        let iterations = iterations
            .filter(|&i| i >= 1)
            .ok_or(ScramError::Malformed("no iteration count"))?;
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = m.hmac(&salted, b"Server Key");
        self.expected_server_signature = Some(m.hmac(&server_key, auth_message.as_bytes()));
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Check the server-final message: the server knew the credential too.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text =
            std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let got = text
            .strip_prefix("v=")
            .and_then(|v| B64.decode(v).ok())
            .ok_or(ScramError::Malformed("no server signature"))?;
        match &self.expected_server_signature {
            Some(want) if constant_time_eq(want, &got) => Ok(()),
            _ => Err(ScramError::InvalidCredentials(self.mechanism.name())),
        }
    }
}

/// Split `n,,n=user,r=nonce` into the GS2 header (`n,,`, or `n,a=authzid,`) and the bare
/// message. Channel binding (`p=`) is refused, as Kafka refuses it.
fn split_gs2(text: &str) -> Result<(&str, &str), ScramError> {
    let mut parts = text.splitn(3, ',');
    let (Some(flag), Some(authzid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ScramError::Malformed("no GS2 header"));
    };
    if flag != "n" && flag != "y" {
        return Err(ScramError::Malformed("channel binding is not supported"));
    }
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("bad authorization id"));
    }
    let at = flag.len() + authzid.len() + 2;
    Ok((&text[..at], &text[at..]))
}

/// RFC 5802's saslname: `=2C` is `,` and `=3D` is `=`.
fn decode_saslname(v: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Byte equality whose time does not depend on where the inputs differ (secrets, proofs).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh server nonce: 24 random bytes, base64 (printable, no comma).
pub fn random_nonce() -> String {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the OS has randomness");
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example: user "user", password "pencil".
    #[test]
    fn rfc7677_example_authenticates() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096);
        let mut server = ScramServer::new(ScramMechanism::Sha256);
        let first = server
            .step(
                b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                |u| (u == "user").then(|| cred.clone()),
                "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            )
            .unwrap();
        assert_eq!(
            first,
            Step::Continue(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                    .to_vec()
            )
        );
        let done = server
            .step(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                |_| unreachable!("looked up once"),
                "",
            )
            .unwrap();
        assert_eq!(
            done,
            Step::Done {
                user: "user".into(),
                message: b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec()
            }
        );
    }

    /// Old librdkafka (2.0, kcat 1.7) repeats its nonce before the server's in the final
    /// message; Kafka accepts a nonce that ends with the server's, and so does fjord.
    #[test]
    fn a_final_nonce_ending_with_the_servers_is_accepted() {
        let m = ScramMechanism::Sha256;
        let cred = ScramCredential::from_password(m, "pw", b"salt", 4096);
        let mut server = ScramServer::new(m);
        server
            .step(b"n,,n=u,r=cli", |_| Some(cred.clone()), "srv")
            .unwrap();
        let without_proof = "c=biws,r=cliclisrv";
        let auth = format!(
            "n=u,r=cli,r=clisrv,s={},i=4096,{without_proof}",
            B64.encode(b"salt")
        );
        let salted = m.salted_password(b"pw", b"salt", 4096);
        let client_key = m.hmac(&salted, b"Client Key");
        let signature = m.hmac(&cred.stored_key, auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let msg = format!("{without_proof},p={}", B64.encode(proof));
        assert!(matches!(
            server.step(msg.as_bytes(), |_| None, ""),
            Ok(Step::Done { .. })
        ));
        let mut server = ScramServer::new(m);
        server
            .step(b"n,,n=u,r=cli", |_| Some(cred.clone()), "srv")
            .unwrap();
        assert_eq!(
            server.step(b"c=biws,r=clisrvX,p=AAAA", |_| None, ""),
            Err(ScramError::Malformed("nonce differs"))
        );
    }

    #[test]
    fn the_client_side_logs_in_to_the_server_side() {
        for m in ScramMechanism::ALL {
            let cred = ScramCredential::from_password(m, "pw,=x", b"NaCl", 4096);
            let mut server = ScramServer::new(m);
            let (mut client, first) = ScramClient::start(m, "broker,1=a", "pw,=x", "cnonce");
            let Step::Continue(server_first) = server
                .step(
                    &first,
                    |u| (u == "broker,1=a").then(|| cred.clone()),
                    "snonce",
                )
                .unwrap()
            else {
                panic!("expected a challenge")
            };
            let last = client.client_final(&server_first).unwrap();
            let Step::Done { user, message } = server.step(&last, |_| None, "").unwrap() else {
                panic!("expected success")
            };
            assert_eq!(user, "broker,1=a");
            client.verify_server_final(&message).unwrap();
            assert!(client.verify_server_final(b"v=AAAA").is_err());
        }
        // A wrong password fails at the server.
        let m = ScramMechanism::Sha256;
        let cred = ScramCredential::from_password(m, "right", b"NaCl", 4096);
        let mut server = ScramServer::new(m);
        let (mut client, first) = ScramClient::start(m, "b", "wrong", "c");
        let Step::Continue(sf) = server.step(&first, |_| Some(cred), "s").unwrap() else {
            panic!()
        };
        let last = client.client_final(&sf).unwrap();
        assert!(server.step(&last, |_| None, "").is_err());
        // A server nonce that does not extend ours is refused.
        let (mut client, _) = ScramClient::start(m, "b", "pw", "mine");
        assert!(client.client_final(b"r=theirs,s=AAAA,i=4096").is_err());
    }

    #[test]
    fn a_wrong_proof_or_an_unknown_user_fails() {
        let cred = ScramCredential::from_password(ScramMechanism::Sha512, "right", b"salt", 4096);
        let mut server = ScramServer::new(ScramMechanism::Sha512);
        let Step::Continue(first) = server
            .step(b"n,,n=alice,r=abc", |_| Some(cred.clone()), "xyz")
            .unwrap()
        else {
            panic!("expected a challenge")
        };
        assert!(String::from_utf8(first).unwrap().starts_with("r=abcxyz,"));
        let bogus = B64.encode([7u8; 64]);
        let err = server
            .step(
                format!("c=biws,r=abcxyz,p={bogus}").as_bytes(),
                |_| None,
                "",
            )
            .unwrap_err();
        assert_eq!(err, ScramError::InvalidCredentials("SCRAM-SHA-512"));

        let mut server = ScramServer::new(ScramMechanism::Sha512);
        let err = server
            .step(b"n,,n=nobody,r=abc", |_| None, "xyz")
            .unwrap_err();
        assert_eq!(err, ScramError::InvalidCredentials("SCRAM-SHA-512"));
        assert_eq!(server.user(), Some("nobody"));

        // A SHA-256 credential does not log in with SHA-512.
        let cred256 = ScramCredential::from_password(ScramMechanism::Sha256, "p", b"s", 4096);
        let mut server = ScramServer::new(ScramMechanism::Sha512);
        assert!(server.step(b"n,,n=a,r=1", |_| Some(cred256), "2").is_err());
    }

    #[test]
    fn malformed_messages_are_refused_without_panicking() {
        for msg in [
            &b""[..],
            b"n",
            b"n,,",
            b"p=tls-unique,,n=a,r=b",
            b"n,,r=abc",
            b"n,,n=a",
            b"n,,n=a=ZZ,r=1",
            b"\xff\xfe",
            b"n,,n=a,r=",
            b"n,,m=ext,n=a,r=b",
        ] {
            let mut server = ScramServer::new(ScramMechanism::Sha256);
            assert!(
                server.step(msg, |_| None, "n").is_err(),
                "{:?}",
                String::from_utf8_lossy(msg)
            );
        }
        assert_eq!(decode_saslname("a=2Cb=3Dc").unwrap(), "a,b=c");
    }

    #[test]
    fn verify_password_against_stored_key() {
        for m in ScramMechanism::ALL {
            let c = ScramCredential::from_password(m, "s3cret", b"salt", 4096);
            assert!(c.verify_password("s3cret"));
            assert!(!c.verify_password("s3cret "));
            assert!(!c.verify_password(""));
        }
    }
}
