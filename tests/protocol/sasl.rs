//! SaslHandshake and SaslAuthenticate at every advertised version, over a real socket, and the
//! rules of a SASL listener: nothing but ApiVersions and SASL before authentication, a failed
//! login answered then closed, bare tokens after a v0 handshake, KIP-368 re-authentication
//! and session expiry (on a manual clock).

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{Client, TestBroker, start, start_with_clock, versions};
use fjord::clock::ManualClock;

const JAAS: &str = "listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";";

async fn sasl_broker(extra: &[&str]) -> TestBroker {
    let mut all = vec!["listeners=SASL_PLAINTEXT://127.0.0.1:0", JAAS];
    all.extend_from_slice(extra);
    start(&all).await
}

async fn handshake(c: &mut Client, version: i16, mechanism: &str) -> SaslHandshakeResponse {
    c.call(
        ApiKey::SaslHandshake,
        version,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mechanism.into())),
    )
    .await
}

async fn authenticate(c: &mut Client, version: i16, token: &[u8]) -> SaslAuthenticateResponse {
    c.call(
        ApiKey::SaslAuthenticate,
        version,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token)),
    )
    .await
}

/// Log in as alice with PLAIN (handshake v1, SaslAuthenticate v2).
async fn login_alice(c: &mut Client) {
    assert_eq!(handshake(c, 1, "PLAIN").await.error_code, 0);
    let a = authenticate(c, 2, b"\0alice\0alice-secret").await;
    assert_eq!(a.error_code, 0);
}

/// A Metadata v12 request frame, for requests that get no answer.
fn metadata_frame() -> bytes::BytesMut {
    use kafka_protocol::protocol::Encodable;
    let mut body = bytes::BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(12)
        .with_correlation_id(99)
        .encode(&mut body, ApiKey::Metadata.request_header_version(12))
        .unwrap();
    MetadataRequest::default().encode(&mut body, 12).unwrap();
    body
}

async fn metadata_works(c: &mut Client) {
    let r: MetadataResponse = c
        .call(ApiKey::Metadata, 12, &MetadataRequest::default())
        .await;
    assert_eq!(r.brokers.len(), 1);
}

#[tokio::test]
async fn plain_login_at_every_version() {
    let b = sasl_broker(&[]).await;
    for hv in versions(ApiKey::SaslHandshake).filter(|v| *v >= 1) {
        for av in versions(ApiKey::SaslAuthenticate) {
            let mut c = Client::connect(b.addr).await;
            let _: ApiVersionsResponse = c
                .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
                .await;
            let h = handshake(&mut c, hv, "PLAIN").await;
            assert_eq!(h.error_code, 0, "handshake v{hv}");
            let names: Vec<&str> = h.mechanisms.iter().map(|m| m.as_str()).collect();
            assert_eq!(
                names,
                ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
            );
            let a = authenticate(&mut c, av, b"\0alice\0alice-secret").await;
            assert_eq!(a.error_code, 0, "authenticate v{av}");
            assert_eq!(a.session_lifetime_ms, 0);
            metadata_works(&mut c).await;
        }
    }
}

#[tokio::test]
async fn a_v0_handshake_takes_bare_tokens() {
    let b = sasl_broker(&[]).await;
    let mut c = Client::connect(b.addr).await;
    assert_eq!(handshake(&mut c, 0, "PLAIN").await.error_code, 0);
    c.send_raw(b"\0alice\0alice-secret").await;
    assert_eq!(c.recv_raw().await.unwrap(), Bytes::new());
    metadata_works(&mut c).await;

    let mut c = Client::connect(b.addr).await;
    assert_eq!(handshake(&mut c, 0, "PLAIN").await.error_code, 0);
    c.send_raw(b"\0alice\0wrong").await;
    assert!(c.recv_raw().await.is_none(), "a failed v0 login closes");
}

#[tokio::test]
async fn a_wrong_password_is_answered_then_closed() {
    let b = sasl_broker(&["connection.failed.authentication.delay.ms=0"]).await;
    for av in versions(ApiKey::SaslAuthenticate) {
        let mut c = Client::connect(b.addr).await;
        assert_eq!(handshake(&mut c, 1, "PLAIN").await.error_code, 0);
        let a = authenticate(&mut c, av, b"\0alice\0nope").await;
        assert_eq!(a.error_code, 58, "SASL_AUTHENTICATION_FAILED");
        assert_eq!(
            a.error_message.as_deref(),
            Some("Authentication failed: Invalid username or password")
        );
        assert!(c.recv_raw().await.is_none(), "closed after the answer");
    }
    // Another client is unaffected.
    let mut c = Client::connect(b.addr).await;
    login_alice(&mut c).await;
}

#[tokio::test]
async fn nothing_but_sasl_before_authentication() {
    let b = sasl_broker(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let v: ApiVersionsResponse = c
        .call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())
        .await;
    assert_eq!(v.error_code, 0);
    // A Metadata request closes the connection unanswered.
    let mut raw = Client::connect(b.addr).await;
    raw.send_raw(&metadata_frame()).await;
    assert!(raw.recv_raw().await.is_none());

    // A mechanism the listener does not serve.
    let h = handshake(&mut c, 1, "GSSAPI").await;
    assert_eq!(h.error_code, 33, "UNSUPPORTED_SASL_MECHANISM");
    assert_eq!(h.mechanisms.len(), 4);
    assert!(c.recv_raw().await.is_none());

    // SaslAuthenticate without a handshake.
    let mut c = Client::connect(b.addr).await;
    let a = authenticate(&mut c, 2, b"\0alice\0alice-secret").await;
    assert_eq!(a.error_code, 34, "ILLEGAL_SASL_STATE");
}

#[tokio::test]
async fn sasl_on_a_plaintext_listener_is_an_illegal_state() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    assert_eq!(handshake(&mut c, 1, "PLAIN").await.error_code, 34);
    metadata_works(&mut c).await;
}

#[tokio::test]
async fn only_the_listeners_mechanisms_are_offered() {
    let b = sasl_broker(&["listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN"]).await;
    let mut c = Client::connect(b.addr).await;
    let h = handshake(&mut c, 1, "SCRAM-SHA-256").await;
    assert_eq!(h.error_code, 33);
    let names: Vec<&str> = h.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["PLAIN"]);
}

#[tokio::test]
async fn sessions_end_and_clients_reauthenticate() {
    let clock = ManualClock::new(1_000_000);
    let b = start_with_clock(
        &[
            "listeners=SASL_PLAINTEXT://127.0.0.1:0",
            JAAS,
            "connections.max.reauth.ms=60000",
        ],
        clock.clone(),
    )
    .await;
    let mut c = Client::connect(b.addr).await;
    handshake(&mut c, 1, "PLAIN").await;
    let a = authenticate(&mut c, 2, b"\0alice\0alice-secret").await;
    assert_eq!((a.error_code, a.session_lifetime_ms), (0, 60_000));
    clock.advance(59_000);
    metadata_works(&mut c).await;
    // Re-authentication on the same connection renews the session.
    handshake(&mut c, 1, "PLAIN").await;
    let a = authenticate(&mut c, 2, b"\0alice\0alice-secret").await;
    assert_eq!((a.error_code, a.session_lifetime_ms), (0, 60_000));
    clock.advance(59_000);
    metadata_works(&mut c).await;
    // Past the session's end, the next request closes the connection unanswered.
    clock.advance(2_000);
    c.send_raw(&metadata_frame()).await;
    assert!(c.recv_raw().await.is_none());
}

#[tokio::test]
async fn a_client_stopping_half_way_harms_nobody() {
    let b = sasl_broker(&[]).await;
    // One stops after the handshake, one after a SCRAM client-first message, one mid-frame.
    let mut stalled = Client::connect(b.addr).await;
    handshake(&mut stalled, 1, "PLAIN").await;
    let mut scram = Client::connect(b.addr).await;
    handshake(&mut scram, 1, "SCRAM-SHA-256").await;
    let a = authenticate(&mut scram, 2, b"n,,n=nobody,r=abc").await;
    assert_eq!(a.error_code, 58);
    let mut partial = tokio::net::TcpStream::connect(b.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, &[0, 0, 0, 40, 0, 17])
        .await
        .unwrap();
    // Others log in and work meanwhile.
    for _ in 0..3 {
        let mut c = Client::connect(b.addr).await;
        login_alice(&mut c).await;
        metadata_works(&mut c).await;
    }
    // The stalled one can still finish.
    assert_eq!(
        authenticate(&mut stalled, 2, b"\0alice\0alice-secret")
            .await
            .error_code,
        0
    );
    metadata_works(&mut stalled).await;
}

#[tokio::test]
async fn before_authentication_requests_are_small() {
    let b = sasl_broker(&["sasl.server.max.receive.size=1024"]).await;
    let mut c = Client::connect(b.addr).await;
    handshake(&mut c, 1, "PLAIN").await;
    // A 2 KiB token is over the pre-authentication limit: closed unanswered.
    let mut big = Client::connect(b.addr).await;
    handshake(&mut big, 1, "PLAIN").await;
    big.send_raw(&vec![0u8; 2048]).await;
    assert!(big.recv_raw().await.is_none());
    // Once authenticated, socket.request.max.bytes applies again.
    assert_eq!(
        authenticate(&mut c, 2, b"\0alice\0alice-secret")
            .await
            .error_code,
        0
    );
    let r: MetadataResponse = c
        .call(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default().with_topics(Some(
                (0..100)
                    .map(|i| {
                        metadata_request::MetadataRequestTopic::default().with_name(Some(
                            TopicName(StrBytes::from_string(format!(
                                "a-rather-long-topic-name-{i}"
                            ))),
                        ))
                    })
                    .collect(),
            )),
        )
        .await;
    assert_eq!(r.topics.len(), 100);
}
