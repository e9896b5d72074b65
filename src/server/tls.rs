//! TLS for SSL and SASL_SSL listeners: rustls with the ring provider.
//!
//! Each TLS listener gets its [`TlsListener`] at bind time from its `ssl.*` keys (read through
//! [`Config::listener_value`], so `listener.name.<listener>.ssl.*` overrides work); a problem
//! stops start-up with an error that names the key and never shows a password or key material.
//! The handshake runs in the connection's own task, bounded by [`HANDSHAKE_TIMEOUT`].
//!
//! Keystores as Kafka reads them: `ssl.keystore.type=PEM` with `ssl.keystore.location` (a file
//! holding the private key and the certificate chain) or inline `ssl.keystore.certificate.chain`
//! and `ssl.keystore.key`; `PKCS12` with `ssl.keystore.password`. Kafka's default type is JKS,
//! which fjord does not read: under that type a PEM or PKCS12 file is taken for what it is, and
//! a real JKS file is refused with the command that converts it. A PEM private key may be
//! PKCS#8 encrypted (`ssl.key.password`). Truststores (client authentication) likewise.

use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{Config, Listener};
use crate::security::Principal;
use crate::security::ssl_principal::{self, SslPrincipalMapper};

/// How long a client has to complete its TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from a TLS connection's socket at a time.
const SOCKET_READ_BUFFER: usize = 64 * 1024;

/// An established TLS connection.
pub type Stream = TlsStream<BufReader<TcpStream>>;

/// `ssl.client.auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// A TLS listener's acceptor and the mapping of client certificates to principals.
pub struct TlsListener {
    acceptor: TlsAcceptor,
    mapper: SslPrincipalMapper,
    pub client_auth: ClientAuth,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// The acceptor of one TLS listener, from its `ssl.*` keys.
    pub fn from_config(config: &Config, listener: &Listener) -> Result<TlsListener, String> {
        let keys = Keys {
            config,
            listener: &listener.name,
        };
        let server = server_config(&keys)?;
        let rules = keys.get("ssl.principal.mapping.rules").unwrap_or("DEFAULT");
        let mapper = SslPrincipalMapper::parse(rules)
            .map_err(|e| format!("{}: {e}", keys.name("ssl.principal.mapping.rules")))?;
        Ok(TlsListener {
            acceptor: TlsAcceptor::from(Arc::new(server.config)),
            mapper,
            client_auth: server.client_auth,
        })
    }

    /// Run the server side of the handshake; the principal is the client certificate's mapped
    /// subject, or `User:ANONYMOUS` for a client without a certificate (as in Kafka).
    pub async fn accept(&self, tcp: TcpStream) -> Result<(Stream, Principal), HandshakeError> {
        // rustls reads the socket 4 KiB at a time; a buffer below it makes that one read
        // system call per 64 KiB instead.
        let tcp = BufReader::with_capacity(SOCKET_READ_BUFFER, tcp);
        let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(tcp)).await
        {
            Err(_) => return Err(HandshakeError::TimedOut),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(HandshakeError::Eof);
            }
            Ok(Err(e)) => return Err(HandshakeError::Failed(e.to_string())),
            Ok(Ok(stream)) => stream,
        };
        let cert = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first());
        let principal = match cert {
            None => Principal::anonymous(),
            Some(cert) => Principal::user(
                self.principal_name(cert)
                    .map_err(HandshakeError::NoPrincipal)?,
            ),
        };
        Ok((stream, principal))
    }

    fn principal_name(&self, cert: &CertificateDer<'_>) -> Result<String, String> {
        let dn = ssl_principal::subject_name(cert)?;
        self.mapper
            .name(&dn)
            .ok_or_else(|| format!("no rule of ssl.principal.mapping.rules applies to `{dn}`"))
    }
}

/// Why a TLS connection was not established.
#[derive(Debug)]
pub enum HandshakeError {
    TimedOut,
    /// The client closed the connection before the handshake completed.
    Eof,
    Failed(String),
    /// The client certificate is fine but no `ssl.principal.mapping.rules` rule applies.
    NoPrincipal(String),
}

impl HandshakeError {
    pub fn is_eof(&self) -> bool {
        matches!(self, HandshakeError::Eof)
    }
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::TimedOut => write!(
                f,
                "TLS handshake not completed within {}s",
                HANDSHAKE_TIMEOUT.as_secs()
            ),
            HandshakeError::Eof => {
                write!(f, "client closed the connection during the TLS handshake")
            }
            HandshakeError::Failed(e) => {
                write!(f, "TLS handshake failed: {e}")?;
                if e.contains("UnsupportedCertVersion") {
                    write!(
                        f,
                        " (the client certificate is X.509 v1, which rustls refuses: issue it with extensions, e.g. `openssl x509 -req ... -extfile` with extendedKeyUsage=clientAuth)"
                    )?;
                }
                Ok(())
            }
            HandshakeError::NoPrincipal(e) => write!(f, "TLS client refused: {e}"),
        }
    }
}

/// The `ssl.*` values of one listener.
struct Keys<'a> {
    config: &'a Config,
    listener: &'a str,
}

impl Keys<'_> {
    /// A key's value for this listener; an empty value counts as unset.
    fn get(&self, key: &str) -> Option<&str> {
        self.config
            .listener_value(self.listener, key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The key as the operator wrote it: with the listener prefix if that is where it is set.
    fn name(&self, key: &str) -> String {
        let prefixed = format!("listener.name.{}.{key}", self.listener.to_ascii_lowercase());
        if self.config.is_set(&prefixed) {
            prefixed
        } else {
            key.to_string()
        }
    }
}

struct Server {
    config: ServerConfig,
    client_auth: ClientAuth,
}

fn server_config(keys: &Keys<'_>) -> Result<Server, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = protocol_versions(keys)?;
    let client_auth = match keys
        .get("ssl.client.auth")
        .unwrap_or("none")
        .to_ascii_lowercase()
        .as_str()
    {
        "none" => ClientAuth::None,
        "requested" => ClientAuth::Requested,
        "required" => ClientAuth::Required,
        other => {
            return Err(format!(
                "{}: `{other}` is not none, requested or required",
                keys.name("ssl.client.auth")
            ));
        }
    };
    let (chain, key) = keystore(keys)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("{}: {e}", keys.name("ssl.enabled.protocols")))?;
    let builder = if client_auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let roots = truststore(keys)?.ok_or_else(|| {
            format!(
                "{} requires a truststore of the CAs that sign client certificates: set ssl.truststore.location (PEM or PKCS12) or ssl.truststore.certificates",
                keys.name("ssl.client.auth")
            )
        })?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if client_auth == ClientAuth::Requested {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| format!("{}: {e}", keys.name("ssl.truststore.location")))?,
        )
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| {
        format!(
            "{}: the private key and the certificate chain cannot serve TLS: {e}",
            keystore_key_name(keys)
        )
    })?;
    Ok(Server {
        config,
        client_auth,
    })
}

/// `ssl.enabled.protocols`: TLSv1.2 and TLSv1.3 (rustls serves nothing older).
fn protocol_versions(
    keys: &Keys<'_>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let value = keys
        .get("ssl.enabled.protocols")
        .unwrap_or("TLSv1.2,TLSv1.3");
    let mut versions = Vec::new();
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            "TLSv1" | "TLSv1.1" | "SSLv3" | "SSLv2Hello" => {
                tracing::warn!(
                    "{}: {p} is not served (only TLSv1.2 and TLSv1.3 are)",
                    keys.name("ssl.enabled.protocols")
                );
            }
            other => {
                return Err(format!(
                    "{}: unknown protocol `{other}` (TLSv1.2, TLSv1.3)",
                    keys.name("ssl.enabled.protocols")
                ));
            }
        }
    }
    if versions.is_empty() {
        return Err(format!(
            "{}: `{value}` enables neither TLSv1.2 nor TLSv1.3",
            keys.name("ssl.enabled.protocols")
        ));
    }
    Ok(versions)
}

/// The key to name when the keystore as a whole is wrong.
fn keystore_key_name(keys: &Keys<'_>) -> String {
    if keys.get("ssl.keystore.location").is_some() {
        keys.name("ssl.keystore.location")
    } else {
        keys.name("ssl.keystore.certificate.chain")
    }
}

/// What a store file holds, whatever its declared type says.
#[derive(Debug, PartialEq, Eq)]
enum StoreFormat {
    Pem,
    Pkcs12,
}

/// The format of a store file under its `*.type` key. JKS (Kafka's default) is accepted for a
/// PEM or PKCS12 file (Java reads PKCS12 under type JKS too); a real JKS or JCEKS file is
/// refused with the conversion to run.
fn store_format(
    keys: &Keys<'_>,
    type_key: &str,
    location_key: &str,
    data: &[u8],
) -> Result<StoreFormat, String> {
    let ty = keys.get(type_key).unwrap_or("JKS").to_ascii_uppercase();
    let is_pem = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| data[i..].starts_with(b"-----BEGIN "));
    let java_store = data.starts_with(&[0xfe, 0xed, 0xfe, 0xed]) || data.starts_with(&[0xce; 4]);
    match ty.as_str() {
        "PEM" => Ok(StoreFormat::Pem),
        "PKCS12" => Ok(StoreFormat::Pkcs12),
        "JKS" | "JCEKS" if is_pem => Ok(StoreFormat::Pem),
        "JKS" | "JCEKS" if java_store => Err(format!(
            "{}: {} is a Java {ty} keystore, which fjord does not read; convert it with `keytool -importkeystore -srckeystore <file>.jks -destkeystore <file>.p12 -deststoretype PKCS12` and set {}=PKCS12 (or use PEM files with {}=PEM)",
            keys.name(location_key),
            keys.get(location_key).unwrap_or_default(),
            keys.name(type_key),
            keys.name(type_key),
        )),
        "JKS" | "JCEKS" => Ok(StoreFormat::Pkcs12),
        other => Err(format!(
            "{}: type `{other}` is not supported (PEM or PKCS12)",
            keys.name(type_key)
        )),
    }
}

fn read_file(keys: &Keys<'_>, location_key: &str, path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read {path}: {e}", keys.name(location_key)))
}

type KeyPair = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The broker's certificate chain and private key.
fn keystore(keys: &Keys<'_>) -> Result<KeyPair, String> {
    let location = keys.get("ssl.keystore.location");
    let chain = keys.get("ssl.keystore.certificate.chain");
    let key = keys.get("ssl.keystore.key");
    match (location, chain, key) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(format!(
            "{} and {}/{} are both set: give the keystore as a file or inline, not both",
            keys.name("ssl.keystore.location"),
            keys.name("ssl.keystore.certificate.chain"),
            keys.name("ssl.keystore.key"),
        )),
        (None, None, None) => Err(format!(
            "a TLS listener needs a keystore: set {} (a PEM file with the private key and the certificate chain, or a PKCS12 file), or {} and {} (PEM, inline)",
            keys.name("ssl.keystore.location"),
            keys.name("ssl.keystore.certificate.chain"),
            keys.name("ssl.keystore.key"),
        )),
        (None, Some(_), None) | (None, None, Some(_)) => Err(format!(
            "{} and {} go together: set both",
            keys.name("ssl.keystore.certificate.chain"),
            keys.name("ssl.keystore.key"),
        )),
        (None, Some(chain), Some(key)) => {
            let ty = keys.get("ssl.keystore.type").unwrap_or("JKS");
            if !ty.eq_ignore_ascii_case("PEM") && !ty.eq_ignore_ascii_case("JKS") {
                return Err(format!(
                    "{}: an inline keystore is PEM: set {}=PEM",
                    keys.name("ssl.keystore.certificate.chain"),
                    keys.name("ssl.keystore.type"),
                ));
            }
            let chain = pem_certificates(
                chain.as_bytes(),
                &keys.name("ssl.keystore.certificate.chain"),
            )?;
            let key = pem_private_key(keys, key.as_bytes(), &keys.name("ssl.keystore.key"))?;
            Ok((chain, key))
        }
        (Some(path), None, None) => {
            let data = read_file(keys, "ssl.keystore.location", path)?;
            let what = format!("{} ({path})", keys.name("ssl.keystore.location"));
            match store_format(keys, "ssl.keystore.type", "ssl.keystore.location", &data)? {
                StoreFormat::Pem => {
                    let key = pem_private_key(keys, &data, &what)?;
                    let chain = pem_certificates(&data, &what)?;
                    Ok((chain, key))
                }
                StoreFormat::Pkcs12 => pkcs12_key_pair(keys, &data, &what),
            }
        }
    }
}

/// PEM as Kafka reads it: the base64 body may sit on the BEGIN line, be split anywhere or not
/// at all, and lines may be joined without a break (a properties value continued with `\`
/// loses its line breaks; a literal `\n` stands for one). Rewritten here as strict PEM: each
/// section's markers on their own lines and its body in 64-character lines.
fn normalize_pem(text: &[u8]) -> String {
    static SECTION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?s)-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----")
            .expect("PEM section pattern")
    });
    let text = String::from_utf8_lossy(text).replace("\\n", "\n");
    let mut out = String::new();
    for c in SECTION.captures_iter(&text) {
        let body: String = c[2].chars().filter(|c| !c.is_whitespace()).collect();
        out.push_str(&format!("-----BEGIN {}-----\n", &c[1]));
        for line in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(&format!("-----END {}-----\n", &c[3]));
    }
    out
}

/// Every certificate of a PEM text, in order.
fn pem_certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let pem = normalize_pem(pem);
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: not readable as PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: holds no PEM certificate"));
    }
    Ok(certs)
}

/// The private key of a PEM text: PKCS#8 (plain or encrypted with `ssl.key.password`), PKCS#1
/// RSA or SEC1 EC.
fn pem_private_key(
    keys: &Keys<'_>,
    pem: &[u8],
    what: &str,
) -> Result<PrivateKeyDer<'static>, String> {
    let text = String::from_utf8_lossy(pem);
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(format!(
            "{what}: the private key is encrypted in OpenSSL's legacy format; convert it to PKCS#8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in <key> -out <new key>` (the password stays in ssl.key.password)"
        ));
    }
    let pem = normalize_pem(pem);
    let (text, pem) = (pem.as_str(), pem.as_bytes());
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    if let Some(start) = text.find(BEGIN) {
        let end = text[start..]
            .find(END)
            .map(|e| start + e + END.len())
            .ok_or_else(|| format!("{what}: the encrypted private key has no END line"))?;
        let password = keys.get("ssl.key.password").ok_or_else(|| {
            format!(
                "{what}: the private key is encrypted: set {}",
                keys.name("ssl.key.password")
            )
        })?;
        let (_, der) = pkcs8::der::pem::decode_vec(&pem[start..end])
            .map_err(|e| format!("{what}: the encrypted private key is not valid PEM: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
            .map_err(|e| format!("{what}: the encrypted private key is not PKCS#8: {e}"))?;
        let plain = info.decrypt(password).map_err(|_| {
            format!(
                "{what}: the private key cannot be decrypted with {} (wrong password, or an unsupported cipher)",
                keys.name("ssl.key.password")
            )
        })?;
        return Ok(PrivatePkcs8KeyDer::from(plain.as_bytes().to_vec()).into());
    }
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        // The error of a bad section says which line is wrong, never its contents.
        let (kind, der) = section.map_err(|e| match e {
            rustls_pki_types::pem::Error::IllegalSectionStart { .. } => {
                format!("{what}: not readable as PEM (a BEGIN line is malformed)")
            }
            e => format!("{what}: not readable as PEM: {e}"),
        })?;
        if let Some(key) = PrivateKeyDer::from_pem(kind, der) {
            return Ok(key);
        }
    }
    Err(format!("{what}: holds no PEM private key"))
}

/// The first private key and its chain of a PKCS12 keystore.
fn pkcs12_key_pair(keys: &Keys<'_>, data: &[u8], what: &str) -> Result<KeyPair, String> {
    let password = keys.get("ssl.keystore.password").unwrap_or("");
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| {
        format!(
            "{what}: cannot read the PKCS12 keystore (wrong {}?): {e}",
            keys.name("ssl.keystore.password")
        )
    })?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or_else(|| format!("{what}: the PKCS12 keystore holds no private key"))?;
    let certs: Vec<CertificateDer<'static>> = chain
        .chain()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "{what}: the PKCS12 keystore's private key has no certificate"
        ));
    }
    let key = PrivatePkcs8KeyDer::from(chain.key().to_vec()).into();
    Ok((certs, key))
}

/// The CAs client certificates are checked against, if a truststore is configured.
fn truststore(keys: &Keys<'_>) -> Result<Option<RootCertStore>, String> {
    let location = keys.get("ssl.truststore.location");
    let inline = keys.get("ssl.truststore.certificates");
    let (certs, what) = match (location, inline) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(format!(
                "{} and {} are both set: give the truststore as a file or inline, not both",
                keys.name("ssl.truststore.location"),
                keys.name("ssl.truststore.certificates"),
            ));
        }
        (None, Some(pem)) => {
            let what = keys.name("ssl.truststore.certificates");
            (pem_certificates(pem.as_bytes(), &what)?, what)
        }
        (Some(path), None) => {
            let data = read_file(keys, "ssl.truststore.location", path)?;
            let what = format!("{} ({path})", keys.name("ssl.truststore.location"));
            let certs = match store_format(
                keys,
                "ssl.truststore.type",
                "ssl.truststore.location",
                &data,
            )? {
                StoreFormat::Pem => pem_certificates(&data, &what)?,
                StoreFormat::Pkcs12 => pkcs12_certificates(keys, &data, &what)?,
            };
            (certs, what)
        }
    };
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| format!("{what}: certificate {} is not a usable CA: {e}", i + 1))?;
    }
    Ok(Some(roots))
}

/// The trusted certificates of a PKCS12 truststore (entries keytool marks trusted).
fn pkcs12_certificates(
    keys: &Keys<'_>,
    data: &[u8],
    what: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let password = keys.get("ssl.truststore.password").unwrap_or("");
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| {
        format!(
            "{what}: cannot read the PKCS12 truststore (wrong {}?): {e}",
            keys.name("ssl.truststore.password")
        )
    })?;
    let certs: Vec<CertificateDer<'static>> = store
        .entries()
        .filter_map(|(_, e)| match e {
            p12_keystore::KeyStoreEntry::Certificate(c) => {
                Some(CertificateDer::from(c.as_der().to_vec()))
            }
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(format!(
            "{what}: the PKCS12 truststore holds no trusted certificate (keytool -importcert makes them; `openssl pkcs12 -export` does not mark certificates trusted, as Java also requires: use a PEM truststore instead)"
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Pki {
        ca: rcgen::Certificate,
        ca_pem: String,
        cert_pem: String,
        key_pem: String,
    }

    fn pki() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "fjord test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Pki {
            ca_pem: ca.pem(),
            ca,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn config(keys: &[(&str, &str)]) -> Config {
        let mut raw: BTreeMap<String, String> = keys
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        raw.entry("listeners".into())
            .or_insert("PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0".into());
        Config::from_map(raw).unwrap()
    }

    fn build(keys: &[(&str, &str)]) -> Result<TlsListener, String> {
        let c = config(keys);
        let l = c
            .listeners
            .iter()
            .find(|l| l.name == "SSL")
            .unwrap()
            .clone();
        TlsListener::from_config(&c, &l)
    }

    fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p.to_str().unwrap().to_string()
    }

    #[test]
    fn pem_file_holding_key_and_chain_under_pem_and_default_jks_type() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let both = write(
            &dir,
            "broker.pem",
            format!("{}{}{}", pki.key_pem, pki.cert_pem, pki.ca_pem).as_bytes(),
        );
        let l = build(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &both),
        ])
        .unwrap();
        assert_eq!(l.client_auth, ClientAuth::None);
        // Kafka's default type is JKS: a PEM file is read for what it is.
        build(&[("ssl.keystore.location", &both)]).unwrap();
    }

    #[test]
    fn inline_pem_and_per_listener_overrides() {
        let pki = pki();
        build(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &pki.cert_pem),
            ("ssl.keystore.key", &pki.key_pem),
        ])
        .unwrap();
        // As a properties file gives them: lines continued with `\` (joined without breaks),
        // or written with literal `\n`s.
        let joined = |pem: &str| pem.lines().collect::<String>();
        let escaped = |pem: &str| pem.replace('\n', "\\n");
        build(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &joined(&pki.cert_pem)),
            ("ssl.keystore.key", &escaped(&pki.key_pem)),
        ])
        .unwrap();
        // Everything under listener.name.ssl.: the unprefixed keys are not needed.
        let l = build(&[
            ("listener.name.ssl.ssl.keystore.type", "PEM"),
            (
                "listener.name.ssl.ssl.keystore.certificate.chain",
                &pki.cert_pem,
            ),
            ("listener.name.ssl.ssl.keystore.key", &pki.key_pem),
            ("listener.name.ssl.ssl.client.auth", "required"),
            ("listener.name.ssl.ssl.truststore.type", "PEM"),
            ("listener.name.ssl.ssl.truststore.certificates", &pki.ca_pem),
            ("ssl.client.auth", "none"),
        ])
        .unwrap();
        assert_eq!(l.client_auth, ClientAuth::Required);
    }

    #[test]
    fn encrypted_pkcs8_key_with_ssl_key_password() {
        use pkcs8::der::pem::LineEnding;
        let pki = pki();
        let (_, der) = pkcs8::der::pem::decode_vec(pki.key_pem.as_bytes()).unwrap();
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).unwrap();
        // PBKDF2-SHA256 and AES-256-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes.
        let params =
            pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(2048, b"saltsalt", &[7; 16])
                .unwrap();
        let encrypted = info
            .encrypt_with_params(params, "s3cret")
            .unwrap()
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap();
        let keys = |pw: Option<&'static str>| {
            let mut k = vec![
                ("ssl.keystore.type", "PEM"),
                ("ssl.keystore.certificate.chain", pki.cert_pem.as_str()),
                ("ssl.keystore.key", encrypted.as_str()),
            ];
            if let Some(pw) = pw {
                k.push(("ssl.key.password", pw));
            }
            k
        };
        build(&keys(Some("s3cret"))).unwrap();
        let e = build(&keys(None)).unwrap_err();
        assert!(
            e.contains("encrypted") && e.contains("ssl.key.password"),
            "{e}"
        );
        let e = build(&keys(Some("Tr0ub4dor"))).unwrap_err();
        assert!(
            e.contains("cannot be decrypted with ssl.key.password"),
            "{e}"
        );
        assert!(
            !e.contains("Tr0ub4dor"),
            "the password must not be shown: {e}"
        );
    }

    #[test]
    fn pkcs12_keystore_and_truststore() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let (_, key_der) = pkcs8::der::pem::decode_vec(pki.key_pem.as_bytes()).unwrap();
        let cert_der = CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).unwrap();
        let mut ks = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(
            key_der,
            [1u8; 20],
            vec![
                p12_keystore::Certificate::from_der(&cert_der).unwrap(),
                p12_keystore::Certificate::from_der(pki.ca.der()).unwrap(),
            ],
        );
        ks.add_entry(
            "broker",
            p12_keystore::KeyStoreEntry::PrivateKeyChain(chain),
        );
        let p12 = write(&dir, "broker.p12", &ks.writer("storepw").write().unwrap());
        let mut ts = p12_keystore::KeyStore::new();
        ts.add_entry(
            "ca",
            p12_keystore::KeyStoreEntry::Certificate(
                p12_keystore::Certificate::from_der(pki.ca.der()).unwrap(),
            ),
        );
        let trust = write(&dir, "trust.p12", &ts.writer("trustpw").write().unwrap());
        let l = build(&[
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &p12),
            ("ssl.keystore.password", "storepw"),
            ("ssl.truststore.type", "PKCS12"),
            ("ssl.truststore.location", &trust),
            ("ssl.truststore.password", "trustpw"),
            ("ssl.client.auth", "requested"),
        ])
        .unwrap();
        assert_eq!(l.client_auth, ClientAuth::Requested);
        // Under the default JKS type a PKCS12 file is read as PKCS12, as Java does.
        build(&[
            ("ssl.keystore.location", &p12),
            ("ssl.keystore.password", "storepw"),
        ])
        .unwrap();
        let e = build(&[
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", &p12),
            ("ssl.keystore.password", "nope-pw"),
        ])
        .unwrap_err();
        assert!(e.contains("wrong ssl.keystore.password"), "{e}");
        assert!(!e.contains("nope-pw"), "{e}");
    }

    #[test]
    fn bad_inputs_name_the_key() {
        let pki = pki();
        let dir = tempfile::tempdir().unwrap();
        let err = |keys: &[(&str, &str)]| build(keys).unwrap_err();

        let e = err(&[]);
        assert!(
            e.contains("needs a keystore") && e.contains("ssl.keystore.location"),
            "{e}"
        );
        let e = err(&[(
            "listener.name.ssl.ssl.keystore.location",
            "/nonexistent/k.pem",
        )]);
        assert!(
            e.starts_with(
                "listener.name.ssl.ssl.keystore.location: cannot read /nonexistent/k.pem"
            ),
            "{e}"
        );
        let jks = write(&dir, "k.jks", &[0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]);
        let e = err(&[("ssl.keystore.location", &jks)]);
        assert!(
            e.contains("Java JKS keystore") && e.contains("keytool -importkeystore"),
            "{e}"
        );
        let only_cert = write(&dir, "c.pem", pki.cert_pem.as_bytes());
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &only_cert),
        ]);
        assert!(e.contains("holds no PEM private key"), "{e}");
        let only_key = write(&dir, "k.pem", pki.key_pem.as_bytes());
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &only_key),
        ]);
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let garbage = write(&dir, "g.pem", b"-----BEGIN CERTIFICATE-----\n!!!!\n");
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &garbage),
        ]);
        assert!(e.starts_with("ssl.keystore.location"), "{e}");
        // A key that does not belong to the certificate.
        let other = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &pki.cert_pem),
            ("ssl.keystore.key", &other),
        ]);
        assert!(e.starts_with("ssl.keystore.certificate.chain: "), "{e}");
        assert!(!e.contains("PRIVATE KEY"), "{e}");
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &pki.cert_pem),
        ]);
        assert!(e.contains("go together"), "{e}");
        let e = err(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", &only_cert),
            ("ssl.keystore.key", &pki.key_pem),
        ]);
        assert!(e.contains("not both"), "{e}");
        let e = err(&[
            ("ssl.keystore.type", "BKS"),
            ("ssl.keystore.location", &only_cert),
        ]);
        assert!(e.starts_with("ssl.keystore.type: type `BKS`"), "{e}");

        let good = [
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", pki.cert_pem.as_str()),
            ("ssl.keystore.key", pki.key_pem.as_str()),
        ];
        let with = |extra: &[(&'static str, &str)]| {
            let mut k: Vec<(&str, &str)> = good.to_vec();
            k.extend_from_slice(extra);
            build(&k).map(|_| ()).unwrap_err()
        };
        let e = with(&[("ssl.client.auth", "required")]);
        assert!(e.contains("requires a truststore"), "{e}");
        let e = with(&[("ssl.client.auth", "sometimes")]);
        assert!(e.starts_with("ssl.client.auth:"), "{e}");
        let e = with(&[("ssl.enabled.protocols", "TLSv1.1")]);
        assert!(e.starts_with("ssl.enabled.protocols:"), "{e}");
        let e = with(&[("ssl.enabled.protocols", "TLSv9")]);
        assert!(e.contains("unknown protocol"), "{e}");
        let e = with(&[("ssl.principal.mapping.rules", "RULE:nope")]);
        assert!(e.starts_with("ssl.principal.mapping.rules:"), "{e}");
        let e = with(&[
            ("ssl.client.auth", "required"),
            (
                "ssl.truststore.certificates",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ),
        ]);
        assert!(e.starts_with("ssl.truststore.certificates: "), "{e}");
        // TLS 1.3 only is fine.
        let mut k: Vec<(&str, &str)> = good.to_vec();
        k.push(("ssl.enabled.protocols", "TLSv1.3"));
        build(&k).unwrap();
    }
}
