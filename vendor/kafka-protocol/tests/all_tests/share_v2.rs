//! fjord patch: the hand-made v2 of ShareFetch (78) and ShareAcknowledge (79) (KIP-1206
//! `ShareAcquireMode`, KIP-1222 `IsRenewAck` and `AcquisitionLockTimeoutMs`), with the exact
//! wire bytes at v1 and v2, so a misplaced field cannot round-trip with itself and pass.
#![cfg(all(feature = "client", feature = "broker"))]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckRequestBatch,
};
use kafka_protocol::messages::share_acknowledge_response::{
    PartitionData as AckPartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, ShareAcknowledgeRequest, ShareAcknowledgeResponse, ShareFetchRequest,
    ShareFetchResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, Message, StrBytes};
use uuid::Uuid;

fn encode<T: Encodable>(value: &T, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    value.encode(&mut buf, version).unwrap();
    assert_eq!(buf.len(), value.compute_size(version).unwrap());
    buf.freeze()
}

fn round_trip<T: Encodable + Decodable + PartialEq + std::fmt::Debug>(value: &T, version: i16) {
    let mut bytes = encode(value, version);
    let decoded = T::decode(&mut bytes, version).unwrap();
    assert!(
        bytes.is_empty(),
        "v{version}: {} bytes left over",
        bytes.len()
    );
    assert_eq!(&decoded, value, "v{version}");
}

#[test]
fn valid_versions_are_1_to_2() {
    for key in [ApiKey::ShareFetch, ApiKey::ShareAcknowledge] {
        let range = key.valid_versions();
        assert_eq!((range.min, range.max), (1, 2), "{key:?}");
    }
    assert_eq!(ShareFetchRequest::VERSIONS.max, 2);
    assert_eq!(ShareFetchResponse::VERSIONS.max, 2);
    assert_eq!(ShareAcknowledgeRequest::VERSIONS.max, 2);
    assert_eq!(ShareAcknowledgeResponse::VERSIONS.max, 2);
}

fn share_fetch(mode: i8, renew: bool) -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(StrBytes::from_static_str("g"))))
        .with_member_id(Some(StrBytes::from_static_str("m")))
        .with_share_session_epoch(1)
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(100)
        .with_max_records(7)
        .with_batch_size(7)
        .with_share_acquire_mode(mode)
        .with_is_renew_ack(renew)
}

#[test]
fn share_fetch_request_acquire_mode_and_renew_flag_are_on_the_wire_from_v2() {
    let head: &[u8] = &[
        2, b'g', 2, b'm', 0, 0, 0, 1, 0, 0, 1, 0xf4, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 0, 7, 0, 0,
        0, 7,
    ];
    // v2: ShareAcquireMode (int8) and IsRenewAck (bool) after BatchSize, then the empty
    // Topics and ForgottenTopicsData arrays and no tagged fields.
    let v2 = encode(&share_fetch(1, true), 2);
    assert_eq!(&v2[..head.len()], head);
    assert_eq!(&v2[head.len()..], &[1, 1, 1, 1, 0]);
    // v1: neither field; ShareAcquireMode is ignorable, so a set value is left out.
    let v1 = encode(&share_fetch(1, false), 1);
    assert_eq!(&v1[..head.len()], head);
    assert_eq!(&v1[head.len()..], &[1, 1, 0]);
    let mut v1 = v1;
    let decoded = ShareFetchRequest::decode(&mut v1, 1).unwrap();
    assert_eq!((decoded.share_acquire_mode, decoded.is_renew_ack), (0, false));
    // IsRenewAck is not ignorable: a v1 request cannot carry it.
    let mut buf = BytesMut::new();
    assert!(share_fetch(0, true).encode(&mut buf, 1).is_err());
    assert!(share_fetch(0, true).compute_size(1).is_err());
}

#[test]
fn share_fetch_request_round_trips_at_v1_and_v2() {
    let request = share_fetch(0, false).with_topics(vec![FetchTopic::default()
        .with_topic_id(Uuid::from_u128(7))
        .with_partitions(vec![FetchPartition::default()
            .with_partition_index(2)
            .with_acknowledgement_batches(vec![AcknowledgementBatch::default()
                .with_first_offset(10)
                .with_last_offset(12)
                .with_acknowledge_types(vec![1, 2, 4])])])]);
    round_trip(&request, 1);
    round_trip(&request, 2);
    round_trip(&request.clone().with_share_acquire_mode(1).with_is_renew_ack(true), 2);
    assert!(ShareFetchRequest::decode(&mut encode(&request, 2), 3).is_err());
}

fn share_acknowledge(renew: bool) -> ShareAcknowledgeRequest {
    ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(StrBytes::from_static_str("g"))))
        .with_member_id(Some(StrBytes::from_static_str("m")))
        .with_share_session_epoch(2)
        .with_is_renew_ack(renew)
}

#[test]
fn share_acknowledge_request_renew_flag_is_on_the_wire_from_v2() {
    // v2: IsRenewAck right after ShareSessionEpoch.
    assert_eq!(
        &encode(&share_acknowledge(true), 2)[..],
        &[2, b'g', 2, b'm', 0, 0, 0, 2, 1, 1, 0]
    );
    assert_eq!(
        &encode(&share_acknowledge(false), 1)[..],
        &[2, b'g', 2, b'm', 0, 0, 0, 2, 1, 0]
    );
    let mut buf = BytesMut::new();
    assert!(share_acknowledge(true).encode(&mut buf, 1).is_err());
    let request = share_acknowledge(true).with_topics(vec![AcknowledgeTopic::default()
        .with_topic_id(Uuid::from_u128(9))
        .with_partitions(vec![AcknowledgePartition::default()
            .with_partition_index(0)
            .with_acknowledgement_batches(vec![AckRequestBatch::default()
                .with_first_offset(0)
                .with_last_offset(4)
                .with_acknowledge_types(vec![4])])])]);
    round_trip(&request, 2);
    round_trip(&request.with_is_renew_ack(false), 1);
}

#[test]
fn share_acknowledge_response_lock_timeout_is_on_the_wire_from_v2() {
    let response = ShareAcknowledgeResponse::default().with_acquisition_lock_timeout_ms(15000);
    // v2: AcquisitionLockTimeoutMs (int32) after the top-level ErrorMessage.
    assert_eq!(
        &encode(&response, 2)[..],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0x3a, 0x98, 1, 1, 0]
    );
    // v1: ignorable, left out whatever its value; decoded as 0.
    assert_eq!(&encode(&response, 1)[..], &[0, 0, 0, 0, 0, 0, 0, 1, 1, 0]);
    let mut v1 = encode(&response, 1);
    let decoded = ShareAcknowledgeResponse::decode(&mut v1, 1).unwrap();
    assert_eq!(decoded.acquisition_lock_timeout_ms, 0);
    let response = response.with_responses(vec![ShareAcknowledgeTopicResponse::default()
        .with_topic_id(Uuid::from_u128(9))
        .with_partitions(vec![AckPartitionData::default()
            .with_partition_index(1)
            .with_error_code(121)])]);
    round_trip(&response, 2);
    round_trip(&response.with_acquisition_lock_timeout_ms(0), 1);
}
