//! fjord patch: round trips for the hand-made v1 of DescribeShareGroupOffsets (90),
//! WriteShareGroupState (85) and ReadShareGroupStateSummary (87) (KIP-1226), with the exact
//! wire bytes of the structs that gained a field, so a misplaced field cannot round-trip
//! with itself and pass.
#![cfg(all(feature = "client", feature = "broker"))]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequestGroup, DescribeShareGroupOffsetsRequestTopic,
};
use kafka_protocol::messages::describe_share_group_offsets_response::{
    DescribeShareGroupOffsetsResponseGroup, DescribeShareGroupOffsetsResponsePartition,
    DescribeShareGroupOffsetsResponseTopic,
};
use kafka_protocol::messages::read_share_group_state_summary_request::{
    PartitionData as SummaryPartitionData, ReadStateSummaryData,
};
use kafka_protocol::messages::read_share_group_state_summary_response::{
    PartitionResult as SummaryPartitionResult, ReadStateSummaryResult,
};
use kafka_protocol::messages::write_share_group_state_request::{
    PartitionData as WritePartitionData, StateBatch, WriteStateData,
};
use kafka_protocol::messages::write_share_group_state_response::{
    PartitionResult as WritePartitionResult, WriteStateResult,
};
use kafka_protocol::messages::{
    ApiKey, DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse, GroupId,
    ReadShareGroupStateSummaryRequest, ReadShareGroupStateSummaryResponse, TopicName,
    WriteShareGroupStateRequest, WriteShareGroupStateResponse,
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

fn topic_id() -> Uuid {
    Uuid::from_u128(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10)
}

#[test]
fn valid_versions_are_0_to_1() {
    for key in [
        ApiKey::DescribeShareGroupOffsets,
        ApiKey::WriteShareGroupState,
        ApiKey::ReadShareGroupStateSummary,
    ] {
        let range = key.valid_versions();
        assert_eq!((range.min, range.max), (0, 1), "{key:?}");
    }
    assert_eq!(DescribeShareGroupOffsetsRequest::VERSIONS.max, 1);
    assert_eq!(DescribeShareGroupOffsetsResponse::VERSIONS.max, 1);
    assert_eq!(WriteShareGroupStateRequest::VERSIONS.max, 1);
    assert_eq!(WriteShareGroupStateResponse::VERSIONS.max, 1);
    assert_eq!(ReadShareGroupStateSummaryRequest::VERSIONS.max, 1);
    assert_eq!(ReadShareGroupStateSummaryResponse::VERSIONS.max, 1);
}

#[test]
fn describe_share_group_offsets_partition_lag_is_on_the_wire_from_v1() {
    let partition = DescribeShareGroupOffsetsResponsePartition::default()
        .with_partition_index(3)
        .with_start_offset(30)
        .with_leader_epoch(5)
        .with_lag(70);
    #[rustfmt::skip]
    let v1: &[u8] = &[
        0, 0, 0, 3,                 // PartitionIndex
        0, 0, 0, 0, 0, 0, 0, 30,    // StartOffset
        0, 0, 0, 5,                 // LeaderEpoch
        0, 0, 0, 0, 0, 0, 0, 70,    // Lag (v1+)
        0, 0,                       // ErrorCode
        0,                          // ErrorMessage: null
        0,                          // tagged fields
    ];
    assert_eq!(&encode(&partition, 1)[..], v1);
    // Ignorable: v0 leaves it out instead of refusing to encode.
    let v0: Vec<u8> = [&v1[..16], &v1[24..]].concat();
    assert_eq!(&encode(&partition, 0)[..], &v0[..]);
    // A v0 decode gives Kafka's default, -1 ("uninitialized lag").
    let decoded =
        DescribeShareGroupOffsetsResponsePartition::decode(&mut Bytes::from(v0), 0).unwrap();
    assert_eq!(decoded.lag, -1);
    assert_eq!(decoded.start_offset, 30);
    assert_eq!(
        DescribeShareGroupOffsetsResponsePartition::default().lag,
        -1
    );
}

#[test]
fn describe_share_group_offsets_round_trips_at_v0_and_v1() {
    let request = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("g")))
            .with_topics(Some(vec![DescribeShareGroupOffsetsRequestTopic::default()
                .with_topic_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![0, 1])])),
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(GroupId(StrBytes::from_static_str("all")))
            .with_topics(None),
    ]);
    let response_with_lag = |lag| {
        DescribeShareGroupOffsetsResponse::default()
            .with_throttle_time_ms(7)
            .with_groups(vec![DescribeShareGroupOffsetsResponseGroup::default()
                .with_group_id(GroupId(StrBytes::from_static_str("g")))
                .with_topics(vec![DescribeShareGroupOffsetsResponseTopic::default(
                )
                .with_topic_name(TopicName(StrBytes::from_static_str("t")))
                .with_topic_id(topic_id())
                .with_partitions(vec![
                    DescribeShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(0)
                        .with_start_offset(30)
                        .with_leader_epoch(0)
                        .with_lag(lag),
                    DescribeShareGroupOffsetsResponsePartition::default()
                        .with_partition_index(1)
                        .with_start_offset(-1)
                        .with_error_code(3)
                        .with_error_message(Some(StrBytes::from_static_str("unknown"))),
                ])])])
    };
    for version in [0, 1] {
        round_trip(&request, version);
        round_trip(&response_with_lag(-1), version);
    }
    round_trip(&response_with_lag(70), 1);
    // Kafka does not clamp the lag; a negative one survives v1.
    round_trip(&response_with_lag(-5), 1);
    assert!(DescribeShareGroupOffsetsResponse::default()
        .encode(&mut BytesMut::new(), 2)
        .is_err());
}

#[test]
fn write_share_group_state_delivery_complete_count_is_on_the_wire_from_v1() {
    let partition = WritePartitionData::default()
        .with_partition(2)
        .with_state_epoch(1)
        .with_leader_epoch(4)
        .with_start_offset(30)
        .with_delivery_complete_count(12)
        .with_state_batches(vec![]);
    #[rustfmt::skip]
    let v1: &[u8] = &[
        0, 0, 0, 2,                 // Partition
        0, 0, 0, 1,                 // StateEpoch
        0, 0, 0, 4,                 // LeaderEpoch
        0, 0, 0, 0, 0, 0, 0, 30,    // StartOffset
        0, 0, 0, 12,                // DeliveryCompleteCount (v1+)
        1,                          // StateBatches: empty compact array
        0,                          // tagged fields
    ];
    assert_eq!(&encode(&partition, 1)[..], v1);
    let v0: Vec<u8> = [&v1[..20], &v1[24..]].concat();
    assert_eq!(&encode(&partition, 0)[..], &v0[..]);
    let decoded = WritePartitionData::decode(&mut Bytes::from(v0), 0).unwrap();
    assert_eq!(decoded.delivery_complete_count, -1);
    assert_eq!(WritePartitionData::default().delivery_complete_count, -1);

    let request = |count| {
        WriteShareGroupStateRequest::default()
            .with_group_id(StrBytes::from_static_str("g"))
            .with_topics(vec![WriteStateData::default()
                .with_topic_id(topic_id())
                .with_partitions(vec![WritePartitionData::default()
                    .with_partition(0)
                    .with_state_epoch(2)
                    .with_leader_epoch(0)
                    .with_start_offset(100)
                    .with_delivery_complete_count(count)
                    .with_state_batches(vec![StateBatch::default()
                        .with_first_offset(100)
                        .with_last_offset(109)
                        .with_delivery_state(2)
                        .with_delivery_count(1)])])])
    };
    let response =
        WriteShareGroupStateResponse::default().with_results(vec![WriteStateResult::default()
            .with_topic_id(topic_id())
            .with_partitions(vec![WritePartitionResult::default()
                .with_partition(0)
                .with_error_code(0)])]);
    for version in [0, 1] {
        round_trip(&request(-1), version);
        round_trip(&response, version);
    }
    round_trip(&request(10), 1);
}

#[test]
fn read_share_group_state_summary_delivery_complete_count_is_on_the_wire_from_v1() {
    let partition = SummaryPartitionResult::default()
        .with_partition(1)
        .with_error_code(0)
        .with_state_epoch(2)
        .with_leader_epoch(3)
        .with_start_offset(50)
        .with_delivery_complete_count(9);
    #[rustfmt::skip]
    let v1: &[u8] = &[
        0, 0, 0, 1,                 // Partition
        0, 0,                       // ErrorCode
        0,                          // ErrorMessage: null
        0, 0, 0, 2,                 // StateEpoch
        0, 0, 0, 3,                 // LeaderEpoch
        0, 0, 0, 0, 0, 0, 0, 50,    // StartOffset
        0, 0, 0, 9,                 // DeliveryCompleteCount (v1+)
        0,                          // tagged fields
    ];
    assert_eq!(&encode(&partition, 1)[..], v1);
    let v0: Vec<u8> = [&v1[..23], &v1[27..]].concat();
    assert_eq!(&encode(&partition, 0)[..], &v0[..]);
    let decoded = SummaryPartitionResult::decode(&mut Bytes::from(v0), 0).unwrap();
    assert_eq!(decoded.delivery_complete_count, -1);
    assert_eq!(
        SummaryPartitionResult::default().delivery_complete_count,
        -1
    );

    let request = ReadShareGroupStateSummaryRequest::default()
        .with_group_id(StrBytes::from_static_str("g"))
        .with_topics(vec![ReadStateSummaryData::default()
            .with_topic_id(topic_id())
            .with_partitions(vec![SummaryPartitionData::default()
                .with_partition(0)
                .with_leader_epoch(0)])]);
    let response = |count| {
        ReadShareGroupStateSummaryResponse::default().with_results(vec![
            ReadStateSummaryResult::default()
                .with_topic_id(topic_id())
                .with_partitions(vec![SummaryPartitionResult::default()
                    .with_partition(0)
                    .with_state_epoch(1)
                    .with_start_offset(30)
                    .with_delivery_complete_count(count)]),
        ])
    };
    for version in [0, 1] {
        round_trip(&request, version);
        round_trip(&response(-1), version);
    }
    round_trip(&response(20), 1);
}
