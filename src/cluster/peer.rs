//! Kafka-protocol requests from one broker to another, on the other's inter-broker listener,
//! as Kafka's brokers send them: WriteTxnMarkers from a transaction coordinator to the leaders
//! of its transaction's partitions, the share-state RPCs from share-partition leaders to share
//! coordinators (and, with replication, Fetch from followers).
//!
//! **Owns:** one lazily (re)connected connection per peer broker, request framing (length,
//! request header v2, body) and reading the matching response.
//!
//! **Must never:** retry (callers decide) or interpret a response.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse, WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::security::sasl::ClientLogin;

/// Responses larger than this close the connection.
const MAX_RESPONSE: usize = 256 << 20;

pub struct Peer {
    addr: String,
    client_id: String,
    /// The SASL login of an inter-broker SASL listener; `None` on PLAINTEXT.
    login: Option<ClientLogin>,
    conn: tokio::sync::Mutex<Option<TcpStream>>,
    correlation: AtomicI32,
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl Peer {
    pub fn new(addr: String, node_id: i32, login: Option<ClientLogin>) -> Peer {
        Peer {
            addr,
            client_id: format!("fjord-broker-{node_id}"),
            login,
            conn: tokio::sync::Mutex::new(None),
            correlation: AtomicI32::new(0),
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// WriteTxnMarkers v1.
    pub async fn write_txn_markers(
        &self,
        req: &WriteTxnMarkersRequest,
        timeout: Duration,
    ) -> io::Result<WriteTxnMarkersResponse> {
        self.call(ApiKey::WriteTxnMarkers, 1, req, timeout).await
    }

    /// Fetch v15 (ReplicaState, topic ids, last fetched epochs): a follower's fetch.
    pub async fn fetch(&self, req: &FetchRequest, timeout: Duration) -> io::Result<FetchResponse> {
        self.call(ApiKey::Fetch, 15, req, timeout).await
    }

    /// One request of `key` at `version` and its decoded response, within `timeout` (the
    /// share-state RPCs between brokers, and the two above).
    pub async fn call<Req: Encodable, Resp: Decodable>(
        &self,
        key: ApiKey,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> io::Result<Resp> {
        let mut body = BytesMut::new();
        req.encode(&mut body, version).map_err(bad)?;
        let mut resp = self.exchange(key, version, &body, timeout).await?;
        Resp::decode(&mut resp, version).map_err(bad)
    }

    /// A new connection, logged in when the listener is a SASL one (SaslHandshake v1, then
    /// SaslAuthenticate v2 until the exchange completes).
    async fn connect(&self) -> io::Result<TcpStream> {
        let mut stream = TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let Some(login) = &self.login else {
            return Ok(stream);
        };
        let denied = |what: String| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "SASL {} login to {} failed: {what}",
                    login.mechanism.name(),
                    self.addr
                ),
            )
        };
        let req = SaslHandshakeRequest::default()
            .with_mechanism(StrBytes::from_static_str(login.mechanism.name()));
        let mut body = BytesMut::new();
        req.encode(&mut body, 1).map_err(bad)?;
        let mut resp = self
            .call_on(&mut stream, ApiKey::SaslHandshake, 1, &body)
            .await?;
        let hs = SaslHandshakeResponse::decode(&mut resp, 1).map_err(bad)?;
        if hs.error_code != 0 {
            return Err(denied(format!("handshake error {}", hs.error_code)));
        }
        let (mut exchange, mut token) = login.start();
        loop {
            let req = SaslAuthenticateRequest::default().with_auth_bytes(token.into());
            let mut body = BytesMut::new();
            req.encode(&mut body, 2).map_err(bad)?;
            let mut resp = self
                .call_on(&mut stream, ApiKey::SaslAuthenticate, 2, &body)
                .await?;
            let auth = SaslAuthenticateResponse::decode(&mut resp, 2).map_err(bad)?;
            if auth.error_code != 0 {
                return Err(denied(
                    auth.error_message
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("error {}", auth.error_code)),
                ));
            }
            match exchange.step(&auth.auth_bytes).map_err(|e| denied(e.0))? {
                Some(next) => token = next,
                None => return Ok(stream),
            }
        }
    }

    /// One exchange within `timeout`. The connection is taken out for it and put back only
    /// after a whole response was read: a failed or dropped call closes it.
    async fn exchange(
        &self,
        key: ApiKey,
        version: i16,
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<bytes::Bytes> {
        tokio::time::timeout(timeout, async {
            let mut guard = self.conn.lock().await;
            let mut stream = match guard.take() {
                Some(s) => s,
                None => self.connect().await?,
            };
            let buf = self.call_on(&mut stream, key, version, body).await?;
            *guard = Some(stream);
            Ok(buf)
        })
        .await
        .unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no response in time",
            ))
        })
    }

    /// Send one request on `stream` and read its response (after the response header).
    async fn call_on(
        &self,
        stream: &mut TcpStream,
        key: ApiKey,
        version: i16,
        body: &[u8],
    ) -> io::Result<bytes::Bytes> {
        let correlation_id = self.correlation.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut frame = BytesMut::new();
        frame.put_i32(0);
        header
            .encode(&mut frame, key.request_header_version(version))
            .map_err(bad)?;
        frame.extend_from_slice(body);
        let len = (frame.len() - 4) as i32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        stream.write_all(&frame).await?;
        let len = stream.read_i32().await?;
        if len < 0 || len as usize > MAX_RESPONSE {
            return Err(bad(format!("response of {len} bytes")));
        }
        let mut buf = vec![0; len as usize];
        stream.read_exact(&mut buf).await?;
        let mut buf = bytes::Bytes::from(buf);
        let header =
            ResponseHeader::decode(&mut buf, key.response_header_version(version)).map_err(bad)?;
        if header.correlation_id != correlation_id {
            return Err(bad(format!(
                "correlation id {} answers {correlation_id}",
                header.correlation_id
            )));
        }
        Ok(buf)
    }
}
