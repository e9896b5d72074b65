//! ApiVersions at every version, and the KIP-511 v0 reply to a version the
//! broker does not know.

use bytes::{Buf, BufMut, BytesMut};
use fjord::api::SUPPORTED;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};

use crate::common::{Client, start, versions};

#[tokio::test]
async fn api_versions_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::ApiVersions) {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("test"))
            .with_client_software_version(StrBytes::from_static_str("1"));
        let resp: ApiVersionsResponse = c.call(ApiKey::ApiVersions, v, &req).await;
        assert_eq!(resp.error_code, 0);
        assert_eq!(resp.api_keys.len(), SUPPORTED.len());
        let produce = resp
            .api_keys
            .iter()
            .find(|k| k.api_key == ApiKey::Produce as i16)
            .unwrap();
        assert_eq!((produce.min_version, produce.max_version), (0, 13));
        if v >= 3 {
            let group = resp
                .finalized_features
                .iter()
                .find(|f| f.name.as_str() == "group.version")
                .expect("group.version finalized");
            assert_eq!(group.max_version_level, 1);
            assert!(
                !resp
                    .finalized_features
                    .iter()
                    .any(|f| f.name.as_str() == "transaction.version" && f.max_version_level >= 2),
                "transaction version 2 would switch clients to KIP-890 part 2"
            );
            assert_eq!(resp.supported_features.len(), 3);
        }
    }
}

#[tokio::test]
async fn api_versions_unknown_version_gets_kip511_v0_reply() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    let mut body = BytesMut::new();
    body.put_i16(ApiKey::ApiVersions as i16);
    body.put_i16(99);
    body.put_i32(7);
    body.put_i16(-1);
    c.send_raw(&body).await;
    let mut resp = c
        .recv_raw()
        .await
        .expect("a reply, not a closed connection");
    assert_eq!(resp.get_i32(), 7);
    let r = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(r.error_code, 35);
    assert!(r.api_keys.iter().any(|k| k.api_key == ApiKey::Fetch as i16));
}
