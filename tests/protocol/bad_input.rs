//! Malformed input: bad frames and oversized array counts close only the
//! connection that sent them; the broker and other connections go on.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{Client, start};

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let b = start(&["socket.request.max.bytes=1000"]).await;
    let mut good = Client::connect(b.addr).await;
    let ping = ApiVersionsRequest::default();
    let _: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;

    // Oversized frame.
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    s.write_all(&100_000i32.to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(s.read(&mut buf).await.unwrap_or(0), 0, "closed");

    // Unknown API key.
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0xff, 0xff])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // Garbage that claims to be a Produce v9 request.
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0, 0, 0, 9, 0, 0, 0, 1, 0xff, 0x7f, 1, 2, 3])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // Produce v2 (advertised for librdkafka's sake, refused).
    let mut bad = Client::connect(b.addr).await;
    bad.send_raw(&[0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0, 1])
        .await;
    assert!(bad.recv_raw().await.is_none());

    // The first connection is unaffected.
    let _: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;
}

/// A request whose array claims 2^31 elements (and one claiming 2^32-2 in the
/// flexible encoding) but carries a few bytes: without bounding the count by
/// the bytes remaining, the decoder's up-front allocation aborts the whole
/// broker. The connection is closed; the broker and other connections go on.
#[tokio::test]
async fn oversized_array_counts_close_only_that_connection() {
    let b = start(&[]).await;
    let mut good = Client::connect(b.addr).await;
    let ping = ApiVersionsRequest::default();
    // Metadata v1: topics array (INT32 count) = i32::MAX.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Metadata as i16);
    body.put_i16(1);
    body.put_i32(1);
    body.put_i16(1);
    body.put_u8(b'x');
    body.put_i32(i32::MAX);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Metadata v12 (flexible): topics compact array count as an unsigned varint of 2^32-1.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Metadata as i16);
    body.put_i16(12);
    body.put_i32(2);
    body.put_i16(1);
    body.put_u8(b'x');
    body.put_u8(0); // header tagged fields
    body.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Produce v9 with a topic array of i32::MAX - 1 entries.
    let mut bad = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::Produce as i16);
    body.put_i16(8);
    body.put_i32(3);
    body.put_i16(-1);
    body.put_i16(-1); // transactional id null
    body.put_i16(1); // acks
    body.put_i32(1000); // timeout
    body.put_i32(i32::MAX - 1);
    bad.send_raw(&body).await;
    assert!(bad.recv_raw().await.is_none(), "closed");
    // Still serving.
    let r: ApiVersionsResponse = good.call(ApiKey::ApiVersions, 3, &ping).await;
    assert_eq!(r.error_code, 0);
    let mut fresh = Client::connect(b.addr).await;
    let r: ApiVersionsResponse = fresh.call(ApiKey::ApiVersions, 3, &ping).await;
    assert_eq!(r.error_code, 0);
}
