//! The wire layouts of the API versions that kafka-protocol 0.18 no longer
//! carries: Kafka 4 removed them (KIP-896) and the crate is generated from
//! Kafka 4's schemas, but old clients (kafka-python with `api_version=(0, 10)`,
//! pykafka, librdkafka with `broker.version.fallback`) still speak them, and
//! Kafka 3.x served them. This module owns exactly these layouts:
//!
//! | API          | request | response |
//! |--------------|---------|----------|
//! | Produce      | v0–v2   | v0–v2    |
//! | Fetch        | v0–v3   | v0–v3    |
//! | ListOffsets  | v0      | v0       |
//! | OffsetCommit | v0–v1   | v0–v1    |
//! | OffsetFetch  | v0      | v0       |
//! | CreateTopics | v0–v1   | v0–v1    |
//! | DeleteTopics | v0      | v0       |
//!
//! (`carries` is the list the dispatcher goes by; this table describes it.)
//!
//! Each is the BODY only: the request header before it is decoded, and the
//! length prefix and response header are written, by the caller with
//! kafka-protocol as for every other version. Requests decode into the same
//! typed kafka-protocol structs the handlers take at newer versions, with the
//! fields the old version lacks set to what that version meant (a Fetch
//! before v3 has no overall `max_bytes`: `i32::MAX`; nothing before Fetch v4
//! or ListOffsets v2 reads transactionally: `isolation_level` 0; Fetch before
//! v7 is a sessionless full fetch: session 0, epoch -1; no leader epochs:
//! -1; OffsetCommit v0 commits outside group membership: generation -1,
//! member ""; no OffsetCommit before v2 has a retention: -1; CreateTopics v0
//! has no `validate_only`: false). An old field the typed struct has no place
//! for is read and dropped: ListOffsets v0's `max_num_offsets`, OffsetCommit
//! v1's per-partition `commit_timestamp` (Kafka removed it in v2; the broker
//! stamps commits). Responses encode from the typed structs; fields the old
//! version does not carry are dropped, as Kafka's generated code drops
//! "ignorable" fields (so OffsetFetch's top-level `error_code`, v2+, never
//! reaches a v0 client: a group-level error must be put on each partition, as
//! Kafka does for v0–v1). What the old version cannot say at all is an `Err`:
//! an OffsetFetch response in the v8+ shape (`groups`), a DeleteTopics result
//! without a name (nullable only from v6).
//! The layouts are those of Kafka 3.9's message schemas
//! (`clients/src/main/resources/common/message/*.json`), none of them
//! flexible: int16-length strings, int32-count arrays, int32-length bytes.
//!
//! It must never know about topics, logs or message-set contents: a topic
//! name is a string, a Produce partition's `records` are handed on as the raw
//! bytes the client sent (an old MessageSet, which the caller converts), and
//! a Fetch partition's `records` are written as given. Malformed input is an
//! `Err`, never a panic, and no count read from the wire is allocated before
//! it is checked against the bytes actually remaining (as the patched
//! kafka-protocol does, see vendor/kafka-protocol/FJORD-PATCH.md).

use anyhow::{Result, anyhow, bail, ensure};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, FetchRequest, FetchResponse, GroupId, ListOffsetsRequest,
    ListOffsetsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, ProduceRequest, ProduceResponse, RequestKind, ResponseKind, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// Whether this module carries `version` of `key` (in both directions): the
/// one list of what it handles.
pub fn carries(key: ApiKey, version: i16) -> bool {
    matches!(
        (key, version),
        (ApiKey::Produce, 0..=2)
            | (ApiKey::Fetch, 0..=3)
            | (ApiKey::ListOffsets, 0)
            | (ApiKey::OffsetCommit, 0..=1)
            | (ApiKey::OffsetFetch, 0)
            | (ApiKey::CreateTopics, 0..=1)
            | (ApiKey::DeleteTopics, 0)
    )
}

/// Decode the body of a legacy request (one that `carries`) from `buf`, which
/// holds what follows the request header. Consumes exactly the body; any
/// trailing bytes stay in `buf` for the caller to judge, as with
/// kafka-protocol's own decoder.
pub fn decode_request(key: ApiKey, version: i16, buf: &mut Bytes) -> Result<RequestKind> {
    ensure!(
        carries(key, version),
        "{key:?} v{version} is not a legacy version this codec decodes"
    );
    Ok(match key {
        ApiKey::Produce => RequestKind::Produce(decode_produce(buf)?),
        ApiKey::Fetch => RequestKind::Fetch(decode_fetch(version, buf)?),
        ApiKey::ListOffsets => RequestKind::ListOffsets(decode_list_offsets(buf)?),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(decode_offset_commit(version, buf)?),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(decode_offset_fetch(buf)?),
        ApiKey::CreateTopics => RequestKind::CreateTopics(decode_create_topics(version, buf)?),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(decode_delete_topics(buf)?),
        _ => bail!("{key:?} v{version}: carried but not decoded"),
    })
}

/// Encode the body of a legacy response (one that `carries`) onto `buf`: no
/// length prefix, no response header. On error `buf` is left as it was.
pub fn encode_response(
    key: ApiKey,
    version: i16,
    response: &ResponseKind,
    buf: &mut BytesMut,
) -> Result<()> {
    ensure!(
        carries(key, version),
        "{key:?} v{version} is not a legacy version this codec encodes"
    );
    let start = buf.len();
    let result = match (key, response) {
        (ApiKey::Produce, ResponseKind::Produce(r)) => encode_produce(version, r, buf),
        (ApiKey::Fetch, ResponseKind::Fetch(r)) => encode_fetch(version, r, buf),
        (ApiKey::ListOffsets, ResponseKind::ListOffsets(r)) => encode_list_offsets(r, buf),
        (ApiKey::OffsetCommit, ResponseKind::OffsetCommit(r)) => encode_offset_commit(r, buf),
        (ApiKey::OffsetFetch, ResponseKind::OffsetFetch(r)) => encode_offset_fetch(r, buf),
        (ApiKey::CreateTopics, ResponseKind::CreateTopics(r)) => {
            encode_create_topics(version, r, buf)
        }
        (ApiKey::DeleteTopics, ResponseKind::DeleteTopics(r)) => encode_delete_topics(r, buf),
        _ => Err(anyhow!("the response given is not a {key:?} response")),
    };
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

// ---------------------------------------------------------------------------
// Requests
//
// The least number of bytes an element of each array takes on the wire, used
// to refuse a count the remaining bytes cannot hold before allocating for it.

/// string (2) + array count (4).
const MIN_TOPIC: usize = 6;
/// Produce: index int32 + records length int32.
const MIN_PRODUCE_PARTITION: usize = 8;
/// Fetch: partition int32 + fetch_offset int64 + partition_max_bytes int32.
const MIN_FETCH_PARTITION: usize = 16;
/// ListOffsets v0: partition_index int32 + timestamp int64 + max_num_offsets int32.
const MIN_LIST_OFFSETS_PARTITION: usize = 16;
/// OffsetCommit v0: partition_index int32 + committed_offset int64 +
/// committed_metadata string (2).
const MIN_OFFSET_COMMIT_PARTITION_V0: usize = 14;
/// OffsetCommit v1: v0's + commit_timestamp int64.
const MIN_OFFSET_COMMIT_PARTITION_V1: usize = 22;
/// An int32 array element (partition index, broker id).
const MIN_INT32: usize = 4;
/// CreateTopics: name string (2) + num_partitions int32 + replication_factor
/// int16 + assignments count (4) + configs count (4).
const MIN_CREATABLE_TOPIC: usize = 16;
/// CreateTopics: partition_index int32 + broker_ids count (4).
const MIN_ASSIGNMENT: usize = 8;
/// CreateTopics: name string (2) + value nullable string (2).
const MIN_TOPIC_CONFIG: usize = 4;
/// A string array element (DeleteTopics' topic_names): its int16 length.
const MIN_STRING: usize = 2;

/// ProduceRequest v0–v2 (identical on the wire; no transactional_id before v3):
/// acks int16, timeout_ms int32,
/// topic_data [name string, partition_data [index int32, records nullable bytes]].
fn decode_produce(buf: &mut Bytes) -> Result<ProduceRequest> {
    let acks = get_i16(buf, "acks")?;
    let timeout_ms = get_i32(buf, "timeout_ms")?;
    let topic_data = get_array(buf, MIN_TOPIC, "topic_data", |buf| {
        let name = get_string(buf, "topic_data[].name")?;
        let partition_data = get_array(
            buf,
            MIN_PRODUCE_PARTITION,
            "topic_data[].partition_data",
            |buf| {
                let index = get_i32(buf, "partition_data[].index")?;
                let records = get_nullable_bytes(buf, "partition_data[].records")?;
                Ok(PartitionProduceData::default()
                    .with_index(index)
                    .with_records(records))
            },
        )?;
        Ok(TopicProduceData::default()
            .with_name(TopicName(name))
            .with_partition_data(partition_data))
    })?;
    Ok(ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topic_data))
}

/// FetchRequest v0–v3: replica_id int32, max_wait_ms int32, min_bytes int32,
/// max_bytes int32 (v3+),
/// topics [topic string, partitions [partition int32, fetch_offset int64, partition_max_bytes int32]].
fn decode_fetch(version: i16, buf: &mut Bytes) -> Result<FetchRequest> {
    let replica_id = get_i32(buf, "replica_id")?;
    let max_wait_ms = get_i32(buf, "max_wait_ms")?;
    let min_bytes = get_i32(buf, "min_bytes")?;
    // Before v3 there is no overall limit (KIP-74): the schema's default.
    let max_bytes = if version >= 3 {
        get_i32(buf, "max_bytes")?
    } else {
        i32::MAX
    };
    let topics = get_array(buf, MIN_TOPIC, "topics", |buf| {
        let topic = get_string(buf, "topics[].topic")?;
        let partitions = get_array(buf, MIN_FETCH_PARTITION, "topics[].partitions", |buf| {
            let partition = get_i32(buf, "partitions[].partition")?;
            let fetch_offset = get_i64(buf, "partitions[].fetch_offset")?;
            let partition_max_bytes = get_i32(buf, "partitions[].partition_max_bytes")?;
            Ok(FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(fetch_offset)
                .with_last_fetched_epoch(-1)
                .with_log_start_offset(-1)
                .with_partition_max_bytes(partition_max_bytes))
        })?;
        Ok(FetchTopic::default()
            .with_topic(TopicName(topic))
            .with_partitions(partitions))
    })?;
    Ok(FetchRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(min_bytes)
        .with_max_bytes(max_bytes)
        // READ_UNCOMMITTED: the only isolation before v4.
        .with_isolation_level(0)
        // Sessionless full fetch (KIP-227's legacy metadata), as before v7.
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics))
}

/// ListOffsetsRequest v0: replica_id int32,
/// topics [name string, partitions [partition_index int32, timestamp int64, max_num_offsets int32]].
/// `max_num_offsets` is read and dropped: the typed request has no field for
/// it (v1+ always answer one offset).
fn decode_list_offsets(buf: &mut Bytes) -> Result<ListOffsetsRequest> {
    let replica_id = get_i32(buf, "replica_id")?;
    let topics = get_array(buf, MIN_TOPIC, "topics", |buf| {
        let name = get_string(buf, "topics[].name")?;
        let partitions = get_array(
            buf,
            MIN_LIST_OFFSETS_PARTITION,
            "topics[].partitions",
            |buf| {
                let partition_index = get_i32(buf, "partitions[].partition_index")?;
                let timestamp = get_i64(buf, "partitions[].timestamp")?;
                let _max_num_offsets = get_i32(buf, "partitions[].max_num_offsets")?;
                Ok(ListOffsetsPartition::default()
                    .with_partition_index(partition_index)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(timestamp))
            },
        )?;
        Ok(ListOffsetsTopic::default()
            .with_name(TopicName(name))
            .with_partitions(partitions))
    })?;
    Ok(ListOffsetsRequest::default()
        .with_replica_id(BrokerId(replica_id))
        .with_isolation_level(0)
        .with_topics(topics))
}

/// OffsetCommitRequest v0–v1: group_id string,
/// generation_id_or_member_epoch int32 (v1), member_id string (v1),
/// topics [name string, partitions [partition_index int32, committed_offset int64,
/// commit_timestamp int64 (v1 only), committed_metadata nullable string]].
/// v0 is a commit outside group membership (generation -1, member ""); no
/// version before v2 carries a retention (-1: the broker's). v1's
/// `commit_timestamp` is read and dropped: the typed request has no field for
/// it (Kafka removed it in v2).
fn decode_offset_commit(version: i16, buf: &mut Bytes) -> Result<OffsetCommitRequest> {
    let group_id = get_string(buf, "group_id")?;
    let (generation, member_id) = if version >= 1 {
        let generation = get_i32(buf, "generation_id_or_member_epoch")?;
        (generation, get_string(buf, "member_id")?)
    } else {
        (-1, StrBytes::default())
    };
    let min_partition = if version >= 1 {
        MIN_OFFSET_COMMIT_PARTITION_V1
    } else {
        MIN_OFFSET_COMMIT_PARTITION_V0
    };
    let topics = get_array(buf, MIN_TOPIC, "topics", |buf| {
        let name = get_string(buf, "topics[].name")?;
        let partitions = get_array(buf, min_partition, "topics[].partitions", |buf| {
            let partition_index = get_i32(buf, "partitions[].partition_index")?;
            let committed_offset = get_i64(buf, "partitions[].committed_offset")?;
            if version >= 1 {
                let _commit_timestamp = get_i64(buf, "partitions[].commit_timestamp")?;
            }
            let committed_metadata = get_nullable_string(buf, "partitions[].committed_metadata")?;
            Ok(OffsetCommitRequestPartition::default()
                .with_partition_index(partition_index)
                .with_committed_offset(committed_offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(committed_metadata))
        })?;
        Ok(OffsetCommitRequestTopic::default()
            .with_name(TopicName(name))
            .with_partitions(partitions))
    })?;
    Ok(OffsetCommitRequest::default()
        .with_group_id(GroupId(group_id))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(member_id)
        .with_group_instance_id(None)
        .with_retention_time_ms(-1)
        .with_topics(topics))
}

/// OffsetFetchRequest v0 (the v1 layout; Kafka read v0's offsets from
/// ZooKeeper, v1's from `__consumer_offsets`): group_id string,
/// topics [name string, partition_indexes [int32]], never null before v2.
fn decode_offset_fetch(buf: &mut Bytes) -> Result<OffsetFetchRequest> {
    let group_id = get_string(buf, "group_id")?;
    let topics = get_array(buf, MIN_TOPIC, "topics", |buf| {
        let name = get_string(buf, "topics[].name")?;
        let partition_indexes = get_array(buf, MIN_INT32, "topics[].partition_indexes", |buf| {
            get_i32(buf, "partition_indexes[]")
        })?;
        Ok(OffsetFetchRequestTopic::default()
            .with_name(TopicName(name))
            .with_partition_indexes(partition_indexes))
    })?;
    Ok(OffsetFetchRequest::default()
        .with_group_id(GroupId(group_id))
        .with_topics(Some(topics))
        .with_require_stable(false))
}

/// CreateTopicsRequest v0–v1: topics [name string, num_partitions int32,
/// replication_factor int16, assignments [partition_index int32, broker_ids [int32]],
/// configs [name string, value nullable string]], timeout_ms int32,
/// validate_only boolean (v1+; false before).
fn decode_create_topics(version: i16, buf: &mut Bytes) -> Result<CreateTopicsRequest> {
    let topics = get_array(buf, MIN_CREATABLE_TOPIC, "topics", |buf| {
        let name = get_string(buf, "topics[].name")?;
        let num_partitions = get_i32(buf, "topics[].num_partitions")?;
        let replication_factor = get_i16(buf, "topics[].replication_factor")?;
        let assignments = get_array(buf, MIN_ASSIGNMENT, "topics[].assignments", |buf| {
            let partition_index = get_i32(buf, "assignments[].partition_index")?;
            let broker_ids = get_array(buf, MIN_INT32, "assignments[].broker_ids", |buf| {
                get_i32(buf, "broker_ids[]").map(BrokerId)
            })?;
            Ok(CreatableReplicaAssignment::default()
                .with_partition_index(partition_index)
                .with_broker_ids(broker_ids))
        })?;
        let configs = get_array(buf, MIN_TOPIC_CONFIG, "topics[].configs", |buf| {
            let name = get_string(buf, "configs[].name")?;
            let value = get_nullable_string(buf, "configs[].value")?;
            Ok(CreatableTopicConfig::default()
                .with_name(name)
                .with_value(value))
        })?;
        Ok(CreatableTopic::default()
            .with_name(TopicName(name))
            .with_num_partitions(num_partitions)
            .with_replication_factor(replication_factor)
            .with_assignments(assignments)
            .with_configs(configs))
    })?;
    let timeout_ms = get_i32(buf, "timeout_ms")?;
    let validate_only = if version >= 1 {
        get_bool(buf, "validate_only")?
    } else {
        false
    };
    Ok(CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(timeout_ms)
        .with_validate_only(validate_only))
}

/// DeleteTopicsRequest v0 (the v1 layout): topic_names [string], timeout_ms int32.
fn decode_delete_topics(buf: &mut Bytes) -> Result<DeleteTopicsRequest> {
    let topic_names = get_array(buf, MIN_STRING, "topic_names", |buf| {
        get_string(buf, "topic_names[]").map(TopicName)
    })?;
    let timeout_ms = get_i32(buf, "timeout_ms")?;
    Ok(DeleteTopicsRequest::default()
        .with_topic_names(topic_names)
        .with_timeout_ms(timeout_ms))
}

// ---------------------------------------------------------------------------
// Responses

/// ProduceResponse v0–v2:
/// responses [name string, partitions [index int32, error_code int16, base_offset int64,
/// log_append_time_ms int64 (v2+)]], throttle_time_ms int32 (v1+, at the end).
fn encode_produce(version: i16, r: &ProduceResponse, buf: &mut BytesMut) -> Result<()> {
    put_len(buf, r.responses.len(), "responses")?;
    for t in &r.responses {
        put_string(buf, &t.name, "responses[].name")?;
        put_len(buf, t.partition_responses.len(), "responses[].partitions")?;
        for p in &t.partition_responses {
            buf.put_i32(p.index);
            buf.put_i16(p.error_code);
            buf.put_i64(p.base_offset);
            if version >= 2 {
                buf.put_i64(p.log_append_time_ms);
            }
        }
    }
    if version >= 1 {
        buf.put_i32(r.throttle_time_ms);
    }
    Ok(())
}

/// FetchResponse v0–v3: throttle_time_ms int32 (v1+, first),
/// responses [topic string, partitions [partition_index int32, error_code int16,
/// high_watermark int64, records bytes]].
fn encode_fetch(version: i16, r: &FetchResponse, buf: &mut BytesMut) -> Result<()> {
    if version >= 1 {
        buf.put_i32(r.throttle_time_ms);
    }
    put_len(buf, r.responses.len(), "responses")?;
    for t in &r.responses {
        put_string(buf, &t.topic, "responses[].topic")?;
        put_len(buf, t.partitions.len(), "responses[].partitions")?;
        for p in &t.partitions {
            buf.put_i32(p.partition_index);
            buf.put_i16(p.error_code);
            buf.put_i64(p.high_watermark);
            // A message set, never null for these clients: none is empty.
            let records = p.records.as_deref().unwrap_or_default();
            put_len(buf, records.len(), "partitions[].records")?;
            buf.put_slice(records);
        }
    }
    Ok(())
}

/// ListOffsetsResponse v0:
/// topics [name string, partitions [partition_index int32, error_code int16,
/// old_style_offsets [int64]]].
/// The typed response carries one `offset`; it becomes `[offset]`, or `[]`
/// when there is none (negative).
fn encode_list_offsets(r: &ListOffsetsResponse, buf: &mut BytesMut) -> Result<()> {
    put_len(buf, r.topics.len(), "topics")?;
    for t in &r.topics {
        put_string(buf, &t.name, "topics[].name")?;
        put_len(buf, t.partitions.len(), "topics[].partitions")?;
        for p in &t.partitions {
            buf.put_i32(p.partition_index);
            buf.put_i16(p.error_code);
            if p.offset >= 0 {
                buf.put_i32(1);
                buf.put_i64(p.offset);
            } else {
                buf.put_i32(0);
            }
        }
    }
    Ok(())
}

/// OffsetCommitResponse v0–v1 (throttle_time_ms only from v3):
/// topics [name string, partitions [partition_index int32, error_code int16]].
fn encode_offset_commit(r: &OffsetCommitResponse, buf: &mut BytesMut) -> Result<()> {
    put_len(buf, r.topics.len(), "topics")?;
    for t in &r.topics {
        put_string(buf, &t.name, "topics[].name")?;
        put_len(buf, t.partitions.len(), "topics[].partitions")?;
        for p in &t.partitions {
            buf.put_i32(p.partition_index);
            buf.put_i16(p.error_code);
        }
    }
    Ok(())
}

/// OffsetFetchResponse v0 (the v1 layout):
/// topics [name string, partitions [partition_index int32, committed_offset int64,
/// metadata nullable string, error_code int16]].
/// No top-level error_code (v2+) nor throttle_time_ms (v3+): dropped. A
/// response in the v8+ shape (per-group `groups`) cannot be said at all.
fn encode_offset_fetch(r: &OffsetFetchResponse, buf: &mut BytesMut) -> Result<()> {
    ensure!(
        r.groups.is_empty(),
        "groups: per-group results (v8+) cannot be encoded at v0"
    );
    put_len(buf, r.topics.len(), "topics")?;
    for t in &r.topics {
        put_string(buf, &t.name, "topics[].name")?;
        put_len(buf, t.partitions.len(), "topics[].partitions")?;
        for p in &t.partitions {
            buf.put_i32(p.partition_index);
            buf.put_i64(p.committed_offset);
            put_nullable_string(buf, p.metadata.as_deref(), "partitions[].metadata")?;
            buf.put_i16(p.error_code);
        }
    }
    Ok(())
}

/// CreateTopicsResponse v0–v1 (throttle_time_ms only from v2):
/// topics [name string, error_code int16, error_message nullable string (v1+)].
fn encode_create_topics(version: i16, r: &CreateTopicsResponse, buf: &mut BytesMut) -> Result<()> {
    put_len(buf, r.topics.len(), "topics")?;
    for t in &r.topics {
        put_string(buf, &t.name, "topics[].name")?;
        buf.put_i16(t.error_code);
        if version >= 1 {
            put_nullable_string(buf, t.error_message.as_deref(), "topics[].error_message")?;
        }
    }
    Ok(())
}

/// DeleteTopicsResponse v0 (throttle_time_ms only from v1):
/// responses [name string, error_code int16]. The name is not nullable
/// before v6: a result without one is an error.
fn encode_delete_topics(r: &DeleteTopicsResponse, buf: &mut BytesMut) -> Result<()> {
    put_len(buf, r.responses.len(), "responses")?;
    for t in &r.responses {
        let name = t
            .name
            .as_ref()
            .ok_or_else(|| anyhow!("responses[].name: null, not nullable at v0"))?;
        put_string(buf, name, "responses[].name")?;
        buf.put_i16(t.error_code);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Primitives. `what` names the field in error messages.

fn need(buf: &Bytes, n: usize, what: &str) -> Result<()> {
    ensure!(
        buf.remaining() >= n,
        "truncated at {what}: {n} bytes needed, {} remain",
        buf.remaining()
    );
    Ok(())
}

fn get_i16(buf: &mut Bytes, what: &str) -> Result<i16> {
    need(buf, 2, what)?;
    Ok(buf.get_i16())
}

fn get_i32(buf: &mut Bytes, what: &str) -> Result<i32> {
    need(buf, 4, what)?;
    Ok(buf.get_i32())
}

fn get_i64(buf: &mut Bytes, what: &str) -> Result<i64> {
    need(buf, 8, what)?;
    Ok(buf.get_i64())
}

/// A non-nullable STRING: int16 length, UTF-8 bytes.
fn get_string(buf: &mut Bytes, what: &str) -> Result<StrBytes> {
    let len = get_i16(buf, what)?;
    ensure!(len >= 0, "{what}: length {len} for a non-nullable string");
    let len = len as usize;
    need(buf, len, what)?;
    StrBytes::from_utf8(buf.split_to(len)).map_err(|e| anyhow!("{what}: not UTF-8: {e}"))
}

/// A NULLABLE_STRING: int16 length (-1 for null), UTF-8 bytes.
fn get_nullable_string(buf: &mut Bytes, what: &str) -> Result<Option<StrBytes>> {
    let len = get_i16(buf, what)?;
    ensure!(len >= -1, "{what}: length {len}");
    if len == -1 {
        return Ok(None);
    }
    let len = len as usize;
    need(buf, len, what)?;
    StrBytes::from_utf8(buf.split_to(len))
        .map(Some)
        .map_err(|e| anyhow!("{what}: not UTF-8: {e}"))
}

/// A BOOLEAN: one byte, any non-zero value true (as Kafka reads it).
fn get_bool(buf: &mut Bytes, what: &str) -> Result<bool> {
    need(buf, 1, what)?;
    Ok(buf.get_u8() != 0)
}

/// NULLABLE_BYTES: int32 length (-1 for null), then the bytes, shared with
/// `buf` rather than copied.
fn get_nullable_bytes(buf: &mut Bytes, what: &str) -> Result<Option<Bytes>> {
    match get_i32(buf, what)? {
        -1 => Ok(None),
        len if len < 0 => bail!("{what}: length {len}"),
        len => {
            let len = len as usize;
            need(buf, len, what)?;
            Ok(Some(buf.split_to(len)))
        }
    }
}

/// A non-nullable ARRAY: int32 count, then the elements, each at least
/// `min_elem` bytes long. The count is checked against the bytes remaining
/// before anything is allocated for it.
fn get_array<T>(
    buf: &mut Bytes,
    min_elem: usize,
    what: &str,
    mut element: impl FnMut(&mut Bytes) -> Result<T>,
) -> Result<Vec<T>> {
    let n = get_i32(buf, what)?;
    ensure!(n >= 0, "{what}: count {n} for a non-nullable array");
    let n = n as usize;
    ensure!(
        n.saturating_mul(min_elem) <= buf.remaining(),
        "{what}: {n} elements cannot fit in the {} bytes remaining",
        buf.remaining()
    );
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(element(buf)?);
    }
    Ok(out)
}

/// An int32 count or length.
fn put_len(buf: &mut BytesMut, n: usize, what: &str) -> Result<()> {
    let n = i32::try_from(n).map_err(|_| anyhow!("{what}: {n} is too long to encode"))?;
    buf.put_i32(n);
    Ok(())
}

/// A non-nullable STRING.
fn put_string(buf: &mut BytesMut, s: &str, what: &str) -> Result<()> {
    let len = i16::try_from(s.len())
        .map_err(|_| anyhow!("{what}: a {}-byte string is too long to encode", s.len()))?;
    buf.put_i16(len);
    buf.put_slice(s.as_bytes());
    Ok(())
}

/// A NULLABLE_STRING: `None` as length -1.
fn put_nullable_string(buf: &mut BytesMut, s: Option<&str>, what: &str) -> Result<()> {
    match s {
        Some(s) => put_string(buf, s, what),
        None => {
            buf.put_i16(-1);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
    use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };
    use kafka_protocol::messages::offset_commit_response::{
        OffsetCommitResponsePartition, OffsetCommitResponseTopic,
    };
    use kafka_protocol::messages::offset_fetch_response::{
        OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponseTopic,
    };
    use kafka_protocol::messages::produce_response::{
        BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
    };

    // Bodies (no header) encoded by kafka-python 2.2.15's own protocol classes
    // (`kafka.protocol.produce.ProduceRequest[v]`, `fetch.FetchRequest[v]`,
    // `list_offsets.ListOffsetsRequest[0]` and the matching responses, `.encode()`),
    // with message sets from its `LegacyRecordBatchBuilder`.

    /// Magic 0 message set: offset 0, key "k0", value "value-0".
    const MS_V0: &str = "000000000000000000000017c86cc7a60000000000026b300000000776616c75652d30";
    /// Magic 1 message set: offsets 0 and 1, timestamps 1700000000000(+1),
    /// keys "k0"/"k1", values "value-0"/"value-1".
    const MS_V1: &str = "00000000000000000000001fb522df8b01000000018bcfe56800000000026b30000000\
                         0776616c75652d3000000000000000010000001fb6d2159301000000018bcfe5680100\
                         0000026b310000000776616c75652d31";
    /// acks 1, timeout 1500, [("t", [(0, MS_V0)])].
    const PY_PRODUCE_V0: &str = "0001000005dc00000001000174000000010000000000000023000000000000000000\
                                 000017c86cc7a60000000000026b300000000776616c75652d30";
    /// acks -1, timeout 30000, [("topic-a", [(0, MS_V0), (3, MS_V0)]), ("b", [(1, MS_V0)])].
    const PY_PRODUCE_V1: &str = "ffff00007530000000020007746f7069632d610000000200000000000000230000\
                                 00000000000000000017c86cc7a60000000000026b300000000776616c75652d30\
                                 0000000300000023000000000000000000000017c86cc7a60000000000026b3000\
                                 00000776616c75652d30000162000000010000000100000023000000000000000000\
                                 000017c86cc7a60000000000026b300000000776616c75652d30";
    /// acks 0, timeout 100, [("events", [(2, MS_V1)])].
    const PY_PRODUCE_V2: &str = "0000000000640000000100066576656e74730000000100000002000000560000000000\
                                 0000000000001fb522df8b01000000018bcfe56800000000026b3000000007766\
                                 16c75652d3000000000000000010000001fb6d2159301000000018bcfe5680100\
                                 0000026b310000000776616c75652d31";
    /// replica -1, max_wait 500, min_bytes 1, [("t", [(0, 42, 1048576), (1, 0, 65536)])];
    /// the same bytes at v0, v1 and v2.
    const PY_FETCH_V0_V2: &str = "ffffffff000001f400000001000000010001740000000200000000000000000000\
                                  002a0010000000000001000000000000000000010000";
    /// replica -1, max_wait 100, min_bytes 1, max_bytes 52428800,
    /// [("events", [(2, 7, 1048576)]), ("t", [(0, 0, 4096)])].
    const PY_FETCH_V3: &str = "ffffffff0000006400000001032000000000000200066576656e7473000000010000\
                               00020000000000000007001000000001740000000100000000000000000000000000\
                               001000";
    /// replica -1, [("t", [(0, -1, 1), (1, -2, 1)])].
    const PY_LIST_OFFSETS_V0: &str = "ffffffff000000010001740000000200000000ffffffffffffffff000000010000\
                                      0001fffffffffffffffe00000001";
    /// [("t", [(0, 0, 42)])].
    const PY_PRODUCE_RESP_V0: &str = "0000000100017400000001000000000000000000000000002a";
    /// [("t", [(0, 0, 42), (1, 6, -1)])], throttle 7.
    const PY_PRODUCE_RESP_V1: &str = "0000000100017400000002000000000000000000000000002a000000010006ff\
                                      ffffffffffffff00000007";
    /// [("t", [(0, 0, 42, 1700000000000)])], throttle 0.
    const PY_PRODUCE_RESP_V2: &str = "0000000100017400000001000000000000000000000000002a0000018bcfe568\
                                      0000000000";
    /// [("t", [(0, 0, 3, MS_V0), (1, 1, -1, b"")])].
    const PY_FETCH_RESP_V0: &str = "00000001000174000000020000000000000000000000000003000000230000000000\
                                    00000000000017c86cc7a60000000000026b300000000776616c75652d30000000\
                                    010001ffffffffffffffff00000000";
    /// throttle 5, [("t", [(0, 0, 3, MS_V1)])].
    const PY_FETCH_RESP_V1: &str = "00000005000000010001740000000100000000000000000000000000030000005600\
                                    000000000000000000001fb522df8b01000000018bcfe56800000000026b300000\
                                    000776616c75652d3000000000000000010000001fb6d2159301000000018bcfe5\
                                    6801000000026b310000000776616c75652d31";
    /// [("t", [(0, 0, [42]), (1, 3, [])])].
    const PY_LIST_OFFSETS_RESP_V0: &str =
        "000000010001740000000200000000000000000001000000000000002a00000001000300000000";

    // --- OffsetCommit v0–v1, OffsetFetch v0, CreateTopics v0–v1, DeleteTopics v0:
    // bodies from kafka-python 2.2.15 (`kafka.protocol.commit.OffsetCommitRequest[v]`,
    // `OffsetFetchRequest[0]`, `kafka.protocol.admin.CreateTopicsRequest[v]`,
    // `DeleteTopicsRequest[0]` and the matching responses, `.encode()`).

    /// group "g", [("t", [(0, 42, "meta"), (1, 7, None)]), ("events", [(3, 0, "")])].
    const PY_OFFSET_COMMIT_V0: &str = "000167000000020001740000000200000000000000000000002a00046d65\
                                       7461000000010000000000000007ffff00066576656e7473000000010000\
                                       000300000000000000000000";
    /// group "grp", generation 5, member "consumer-1-abc",
    /// [("t", [(0, 42, timestamp -1, "m"), (2, 100, timestamp 1700000000000, None)])].
    const PY_OFFSET_COMMIT_V1: &str = "000367727000000005000e636f6e73756d65722d312d6162630000000100\
                                       01740000000200000000000000000000002affffffffffffffff00016d00\
                                       00000200000000000000640000018bcfe56800ffff";
    /// [("t", [(0, 0), (1, 25)])]; the same bytes at v0 and v1.
    const PY_OFFSET_COMMIT_RESP_V0: &str = "0000000100017400000002000000000000000000010019";
    /// group "g", [("t", [0, 1, 2]), ("events", [])]; the same bytes at v1.
    const PY_OFFSET_FETCH_V0: &str = "000167000000020001740000000300000000000000010000000200066576\
                                      656e747300000000";
    /// [("t", [(0, 42, "meta", 0), (1, -1, "", 0), (2, -1, None, 16)])]; the same at v1.
    const PY_OFFSET_FETCH_RESP_V0: &str = "000000010001740000000300000000000000000000002a00046d6574\
                                           61000000000001ffffffffffffffff0000000000000002ffffffffff\
                                           ffffffffff0010";
    /// [("new-topic", 3, 1, [], [("cleanup.policy", "compact"), ("retention.ms", None)]),
    /// ("manual", -1, -1, [(0, [1, 2]), (1, [2, 3])], [])], timeout 30000.
    const PY_CREATE_TOPICS_V0: &str = "0000000200096e65772d746f706963000000030001000000000000000200\
                                       0e636c65616e75702e706f6c6963790007636f6d70616374000c72657465\
                                       6e74696f6e2e6d73ffff00066d616e75616cffffffffffff000000020000\
                                       000000000002000000010000000200000001000000020000000200000003\
                                       0000000000007530";
    /// PY_CREATE_TOPICS_V0's topics, timeout 30000, validate_only true; the same
    /// bytes at v2.
    const PY_CREATE_TOPICS_V1: &str = "0000000200096e65772d746f706963000000030001000000000000000200\
                                       0e636c65616e75702e706f6c6963790007636f6d70616374000c72657465\
                                       6e74696f6e2e6d73ffff00066d616e75616cffffffffffff000000020000\
                                       000000000002000000010000000200000001000000020000000200000003\
                                       000000000000753001";
    /// [("new-topic", 0), ("manual", 36)].
    const PY_CREATE_TOPICS_RESP_V0: &str = "0000000200096e65772d746f706963000000066d616e75616c0024";
    /// [("new-topic", 0, None), ("manual", 36, "Topic 'manual' already exists.")].
    const PY_CREATE_TOPICS_RESP_V1: &str = "0000000200096e65772d746f7069630000ffff00066d616e75616c\
                                            0024001e546f70696320276d616e75616c2720616c726561647920\
                                            6578697374732e";
    /// ["a", "topic-b"], timeout 15000; the same bytes at v1.
    const PY_DELETE_TOPICS_V0: &str = "000000020001610007746f7069632d6200003a98";
    /// [("a", 0), ("topic-b", 3)].
    const PY_DELETE_TOPICS_RESP_V0: &str = "0000000200016100000007746f7069632d620003";

    fn hex(s: &str) -> Bytes {
        let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        assert!(s.len().is_multiple_of(2), "odd hex length");
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect::<Vec<u8>>()
            .into()
    }

    fn name(s: &'static str) -> TopicName {
        TopicName(StrBytes::from_static_str(s))
    }

    fn put_str(b: &mut BytesMut, s: &str) {
        b.put_i16(s.len() as i16);
        b.put_slice(s.as_bytes());
    }

    fn decode(key: ApiKey, version: i16, body: &Bytes) -> Result<RequestKind> {
        decode_request(key, version, &mut body.clone())
    }

    /// Decode, insisting that the whole body was consumed.
    fn decode_all(key: ApiKey, version: i16, body: &Bytes) -> RequestKind {
        let mut buf = body.clone();
        let r = decode_request(key, version, &mut buf)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        assert!(
            buf.is_empty(),
            "{key:?} v{version}: {} bytes left",
            buf.len()
        );
        r
    }

    fn produce(r: RequestKind) -> ProduceRequest {
        match r {
            RequestKind::Produce(r) => r,
            other => panic!("not a produce request: {other:?}"),
        }
    }

    fn fetch(r: RequestKind) -> FetchRequest {
        match r {
            RequestKind::Fetch(r) => r,
            other => panic!("not a fetch request: {other:?}"),
        }
    }

    fn list_offsets(r: RequestKind) -> ListOffsetsRequest {
        match r {
            RequestKind::ListOffsets(r) => r,
            other => panic!("not a list offsets request: {other:?}"),
        }
    }

    fn encode(key: ApiKey, version: i16, response: ResponseKind) -> Bytes {
        let mut buf = BytesMut::new();
        encode_response(key, version, &response, &mut buf)
            .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        buf.freeze()
    }

    // --- Test-side encoders of the legacy requests, written from the schemas
    // independently of the decoder, for round trips.

    fn encode_produce_request(r: &ProduceRequest) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(r.acks);
        b.put_i32(r.timeout_ms);
        b.put_i32(r.topic_data.len() as i32);
        for t in &r.topic_data {
            put_str(&mut b, &t.name);
            b.put_i32(t.partition_data.len() as i32);
            for p in &t.partition_data {
                b.put_i32(p.index);
                match &p.records {
                    Some(r) => {
                        b.put_i32(r.len() as i32);
                        b.put_slice(r);
                    }
                    None => b.put_i32(-1),
                }
            }
        }
        b.freeze()
    }

    fn encode_fetch_request(version: i16, r: &FetchRequest) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(r.replica_id.0);
        b.put_i32(r.max_wait_ms);
        b.put_i32(r.min_bytes);
        if version >= 3 {
            b.put_i32(r.max_bytes);
        }
        b.put_i32(r.topics.len() as i32);
        for t in &r.topics {
            put_str(&mut b, &t.topic);
            b.put_i32(t.partitions.len() as i32);
            for p in &t.partitions {
                b.put_i32(p.partition);
                b.put_i64(p.fetch_offset);
                b.put_i32(p.partition_max_bytes);
            }
        }
        b.freeze()
    }

    fn encode_list_offsets_request(r: &ListOffsetsRequest, max_num_offsets: i32) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(r.replica_id.0);
        b.put_i32(r.topics.len() as i32);
        for t in &r.topics {
            put_str(&mut b, &t.name);
            b.put_i32(t.partitions.len() as i32);
            for p in &t.partitions {
                b.put_i32(p.partition_index);
                b.put_i64(p.timestamp);
                b.put_i32(max_num_offsets);
            }
        }
        b.freeze()
    }

    // --- Test-side decoders of the legacy responses, for round trips.

    fn decode_produce_response(version: i16, mut b: Bytes) -> ProduceResponse {
        let b = &mut b;
        let responses = get_array(b, 6, "responses", |b| {
            let name = get_string(b, "name")?;
            let parts = get_array(b, 14, "partitions", |b| {
                let mut p = PartitionProduceResponse::default()
                    .with_index(get_i32(b, "index")?)
                    .with_error_code(get_i16(b, "error_code")?)
                    .with_base_offset(get_i64(b, "base_offset")?);
                if version >= 2 {
                    p.log_append_time_ms = get_i64(b, "log_append_time_ms")?;
                }
                Ok(p)
            })?;
            Ok(TopicProduceResponse::default()
                .with_name(TopicName(name))
                .with_partition_responses(parts))
        })
        .unwrap();
        let mut r = ProduceResponse::default().with_responses(responses);
        if version >= 1 {
            r.throttle_time_ms = get_i32(b, "throttle_time_ms").unwrap();
        }
        assert!(b.is_empty(), "{} bytes left", b.len());
        r
    }

    fn decode_fetch_response(version: i16, mut b: Bytes) -> FetchResponse {
        let b = &mut b;
        let mut r = FetchResponse::default();
        if version >= 1 {
            r.throttle_time_ms = get_i32(b, "throttle_time_ms").unwrap();
        }
        r.responses = get_array(b, 6, "responses", |b| {
            let topic = get_string(b, "topic")?;
            let parts = get_array(b, 18, "partitions", |b| {
                Ok(PartitionData::default()
                    .with_partition_index(get_i32(b, "partition_index")?)
                    .with_error_code(get_i16(b, "error_code")?)
                    .with_high_watermark(get_i64(b, "high_watermark")?)
                    .with_records(get_nullable_bytes(b, "records")?))
            })?;
            Ok(FetchableTopicResponse::default()
                .with_topic(TopicName(topic))
                .with_partitions(parts))
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        r
    }

    fn decode_list_offsets_response(mut b: Bytes) -> ListOffsetsResponse {
        let b = &mut b;
        let topics = get_array(b, 6, "topics", |b| {
            let name = get_string(b, "name")?;
            let parts = get_array(b, 10, "partitions", |b| {
                let partition_index = get_i32(b, "partition_index")?;
                let error_code = get_i16(b, "error_code")?;
                let offsets = get_array(b, 8, "old_style_offsets", |b| get_i64(b, "offset"))?;
                ensure!(offsets.len() <= 1, "more than one offset");
                Ok(ListOffsetsPartitionResponse::default()
                    .with_partition_index(partition_index)
                    .with_error_code(error_code)
                    .with_offset(offsets.first().copied().unwrap_or(-1)))
            })?;
            Ok(ListOffsetsTopicResponse::default()
                .with_name(TopicName(name))
                .with_partitions(parts))
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        ListOffsetsResponse::default().with_topics(topics)
    }

    // --- Hand-built request fixtures, byte by byte from the schemas.

    fn produce_body() -> Bytes {
        let mut b = BytesMut::new();
        b.put_i16(-1); // acks
        b.put_i32(5000); // timeout_ms
        b.put_i32(2); // topic_data
        put_str(&mut b, "alpha");
        b.put_i32(2); // partition_data
        b.put_i32(0); // index
        b.put_i32(3); // records
        b.put_slice(&[1, 2, 3]);
        b.put_i32(7); // index
        b.put_i32(-1); // records: null
        put_str(&mut b, "b");
        b.put_i32(0); // partition_data
        b.freeze()
    }

    fn produce_struct() -> ProduceRequest {
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name("alpha"))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from_static(&[1, 2, 3]))),
                        PartitionProduceData::default()
                            .with_index(7)
                            .with_records(None),
                    ]),
                TopicProduceData::default().with_name(name("b")),
            ])
    }

    fn fetch_body(version: i16) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(-1); // replica_id
        b.put_i32(250); // max_wait_ms
        b.put_i32(1); // min_bytes
        if version >= 3 {
            b.put_i32(10_000_000); // max_bytes
        }
        b.put_i32(2); // topics
        put_str(&mut b, "t");
        b.put_i32(2); // partitions
        b.put_i32(0); // partition
        b.put_i64(42); // fetch_offset
        b.put_i32(1 << 20); // partition_max_bytes
        b.put_i32(3);
        b.put_i64(0);
        b.put_i32(4096);
        put_str(&mut b, "empty");
        b.put_i32(0);
        b.freeze()
    }

    fn fetch_struct(version: i16) -> FetchRequest {
        let part = |partition, fetch_offset, partition_max_bytes| {
            FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(fetch_offset)
                .with_partition_max_bytes(partition_max_bytes)
        };
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(250)
            .with_min_bytes(1)
            .with_max_bytes(if version >= 3 { 10_000_000 } else { i32::MAX })
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name("t"))
                    .with_partitions(vec![part(0, 42, 1 << 20), part(3, 0, 4096)]),
                FetchTopic::default().with_topic(name("empty")),
            ])
    }

    fn list_offsets_body() -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(-1); // replica_id
        b.put_i32(1); // topics
        put_str(&mut b, "orders");
        b.put_i32(3); // partitions
        b.put_i32(0); // partition_index
        b.put_i64(-1); // timestamp: latest
        b.put_i32(1); // max_num_offsets
        b.put_i32(1);
        b.put_i64(-2); // earliest
        b.put_i32(1);
        b.put_i32(2);
        b.put_i64(1_700_000_000_000); // by timestamp
        b.put_i32(10);
        b.freeze()
    }

    fn list_offsets_struct() -> ListOffsetsRequest {
        let part = |partition_index, timestamp| {
            ListOffsetsPartition::default()
                .with_partition_index(partition_index)
                .with_timestamp(timestamp)
        };
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(name("orders"))
                    .with_partitions(vec![part(0, -1), part(1, -2), part(2, 1_700_000_000_000)]),
            ])
    }

    fn offset_commit(r: RequestKind) -> OffsetCommitRequest {
        match r {
            RequestKind::OffsetCommit(r) => r,
            other => panic!("not an offset commit request: {other:?}"),
        }
    }

    fn offset_fetch(r: RequestKind) -> OffsetFetchRequest {
        match r {
            RequestKind::OffsetFetch(r) => r,
            other => panic!("not an offset fetch request: {other:?}"),
        }
    }

    fn create_topics(r: RequestKind) -> CreateTopicsRequest {
        match r {
            RequestKind::CreateTopics(r) => r,
            other => panic!("not a create topics request: {other:?}"),
        }
    }

    fn delete_topics(r: RequestKind) -> DeleteTopicsRequest {
        match r {
            RequestKind::DeleteTopics(r) => r,
            other => panic!("not a delete topics request: {other:?}"),
        }
    }

    fn sb(s: &'static str) -> StrBytes {
        StrBytes::from_static_str(s)
    }

    /// A NULLABLE_STRING, written independently of the codec's.
    fn put_nstr(b: &mut BytesMut, s: Option<&str>) {
        match s {
            Some(s) => put_str(b, s),
            None => b.put_i16(-1),
        }
    }

    // --- Test-side encoders of the group and admin requests, from the schemas.

    /// `commit_timestamps` are v1's per-partition timestamps, in order (the
    /// typed request does not keep them); -1 past their end.
    fn encode_offset_commit_request(
        version: i16,
        r: &OffsetCommitRequest,
        commit_timestamps: &[i64],
    ) -> Bytes {
        let mut ts = commit_timestamps
            .iter()
            .copied()
            .chain(std::iter::repeat(-1));
        let mut b = BytesMut::new();
        put_str(&mut b, &r.group_id);
        if version >= 1 {
            b.put_i32(r.generation_id_or_member_epoch);
            put_str(&mut b, &r.member_id);
        }
        b.put_i32(r.topics.len() as i32);
        for t in &r.topics {
            put_str(&mut b, &t.name);
            b.put_i32(t.partitions.len() as i32);
            for p in &t.partitions {
                b.put_i32(p.partition_index);
                b.put_i64(p.committed_offset);
                if version >= 1 {
                    b.put_i64(ts.next().unwrap());
                }
                put_nstr(&mut b, p.committed_metadata.as_deref());
            }
        }
        b.freeze()
    }

    fn encode_offset_fetch_request(r: &OffsetFetchRequest) -> Bytes {
        let mut b = BytesMut::new();
        put_str(&mut b, &r.group_id);
        let topics = r.topics.as_ref().expect("v0 topics are never null");
        b.put_i32(topics.len() as i32);
        for t in topics {
            put_str(&mut b, &t.name);
            b.put_i32(t.partition_indexes.len() as i32);
            for p in &t.partition_indexes {
                b.put_i32(*p);
            }
        }
        b.freeze()
    }

    fn encode_create_topics_request(version: i16, r: &CreateTopicsRequest) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(r.topics.len() as i32);
        for t in &r.topics {
            put_str(&mut b, &t.name);
            b.put_i32(t.num_partitions);
            b.put_i16(t.replication_factor);
            b.put_i32(t.assignments.len() as i32);
            for a in &t.assignments {
                b.put_i32(a.partition_index);
                b.put_i32(a.broker_ids.len() as i32);
                for id in &a.broker_ids {
                    b.put_i32(id.0);
                }
            }
            b.put_i32(t.configs.len() as i32);
            for c in &t.configs {
                put_str(&mut b, &c.name);
                put_nstr(&mut b, c.value.as_deref());
            }
        }
        b.put_i32(r.timeout_ms);
        if version >= 1 {
            b.put_u8(r.validate_only as u8);
        }
        b.freeze()
    }

    fn encode_delete_topics_request(r: &DeleteTopicsRequest) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(r.topic_names.len() as i32);
        for n in &r.topic_names {
            put_str(&mut b, n);
        }
        b.put_i32(r.timeout_ms);
        b.freeze()
    }

    // --- Test-side decoders of the group and admin responses.

    fn decode_offset_commit_response(mut b: Bytes) -> OffsetCommitResponse {
        let b = &mut b;
        let topics = get_array(b, 6, "topics", |b| {
            let name = get_string(b, "name")?;
            let parts = get_array(b, 6, "partitions", |b| {
                Ok(OffsetCommitResponsePartition::default()
                    .with_partition_index(get_i32(b, "partition_index")?)
                    .with_error_code(get_i16(b, "error_code")?))
            })?;
            Ok(OffsetCommitResponseTopic::default()
                .with_name(TopicName(name))
                .with_partitions(parts))
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        OffsetCommitResponse::default().with_topics(topics)
    }

    fn decode_offset_fetch_response(mut b: Bytes) -> OffsetFetchResponse {
        let b = &mut b;
        let topics = get_array(b, 6, "topics", |b| {
            let name = get_string(b, "name")?;
            let parts = get_array(b, 16, "partitions", |b| {
                Ok(OffsetFetchResponsePartition::default()
                    .with_partition_index(get_i32(b, "partition_index")?)
                    .with_committed_offset(get_i64(b, "committed_offset")?)
                    .with_metadata(get_nullable_string(b, "metadata")?)
                    .with_error_code(get_i16(b, "error_code")?))
            })?;
            Ok(OffsetFetchResponseTopic::default()
                .with_name(TopicName(name))
                .with_partitions(parts))
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        OffsetFetchResponse::default().with_topics(topics)
    }

    fn decode_create_topics_response(version: i16, mut b: Bytes) -> CreateTopicsResponse {
        let b = &mut b;
        let topics = get_array(b, 4, "topics", |b| {
            let mut t = CreatableTopicResult::default()
                .with_name(TopicName(get_string(b, "name")?))
                .with_error_code(get_i16(b, "error_code")?);
            t.error_message = if version >= 1 {
                get_nullable_string(b, "error_message")?
            } else {
                None
            };
            Ok(t)
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        CreateTopicsResponse::default().with_topics(topics)
    }

    fn decode_delete_topics_response(mut b: Bytes) -> DeleteTopicsResponse {
        let b = &mut b;
        let responses = get_array(b, 4, "responses", |b| {
            Ok(DeletableTopicResult::default()
                .with_name(Some(TopicName(get_string(b, "name")?)))
                .with_error_code(get_i16(b, "error_code")?))
        })
        .unwrap();
        assert!(b.is_empty(), "{} bytes left", b.len());
        DeleteTopicsResponse::default().with_responses(responses)
    }

    // --- Hand-built group and admin request fixtures, byte by byte from the schemas.

    fn offset_commit_body(version: i16) -> Bytes {
        let mut b = BytesMut::new();
        put_str(&mut b, "orders-app"); // group_id
        if version >= 1 {
            b.put_i32(7); // generation_id
            put_str(&mut b, "m-1"); // member_id
        }
        b.put_i32(2); // topics
        put_str(&mut b, "t");
        b.put_i32(2); // partitions
        b.put_i32(0); // partition_index
        b.put_i64(42); // committed_offset
        if version >= 1 {
            b.put_i64(1_700_000_000_000); // commit_timestamp
        }
        put_str(&mut b, "meta"); // committed_metadata
        b.put_i32(5);
        b.put_i64(0);
        if version >= 1 {
            b.put_i64(-1);
        }
        b.put_i16(-1); // committed_metadata: null
        put_str(&mut b, "empty");
        b.put_i32(0);
        b.freeze()
    }

    fn offset_commit_struct(version: i16) -> OffsetCommitRequest {
        let part = |partition_index, committed_offset, metadata: Option<&'static str>| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(partition_index)
                .with_committed_offset(committed_offset)
                .with_committed_metadata(metadata.map(sb))
        };
        let (generation, member) = if version >= 1 { (7, "m-1") } else { (-1, "") };
        OffsetCommitRequest::default()
            .with_group_id(GroupId(sb("orders-app")))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(sb(member))
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name("t"))
                    .with_partitions(vec![part(0, 42, Some("meta")), part(5, 0, None)]),
                OffsetCommitRequestTopic::default().with_name(name("empty")),
            ])
    }

    fn offset_fetch_body() -> Bytes {
        let mut b = BytesMut::new();
        put_str(&mut b, "g1"); // group_id
        b.put_i32(2); // topics
        put_str(&mut b, "t");
        b.put_i32(2); // partition_indexes
        b.put_i32(0);
        b.put_i32(3);
        put_str(&mut b, "u");
        b.put_i32(0);
        b.freeze()
    }

    fn offset_fetch_struct() -> OffsetFetchRequest {
        OffsetFetchRequest::default()
            .with_group_id(GroupId(sb("g1")))
            .with_topics(Some(vec![
                OffsetFetchRequestTopic::default()
                    .with_name(name("t"))
                    .with_partition_indexes(vec![0, 3]),
                OffsetFetchRequestTopic::default().with_name(name("u")),
            ]))
    }

    fn create_topics_body(version: i16) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(2); // topics
        put_str(&mut b, "a");
        b.put_i32(3); // num_partitions
        b.put_i16(2); // replication_factor
        b.put_i32(0); // assignments
        b.put_i32(2); // configs
        put_str(&mut b, "retention.ms");
        put_str(&mut b, "1000");
        put_str(&mut b, "x");
        b.put_i16(-1); // value: null
        put_str(&mut b, "b");
        b.put_i32(-1);
        b.put_i16(-1);
        b.put_i32(2); // assignments
        b.put_i32(0); // partition_index
        b.put_i32(2); // broker_ids
        b.put_i32(1);
        b.put_i32(2);
        b.put_i32(1);
        b.put_i32(1);
        b.put_i32(2);
        b.put_i32(0); // configs
        b.put_i32(5000); // timeout_ms
        if version >= 1 {
            b.put_u8(1); // validate_only
        }
        b.freeze()
    }

    fn create_topics_struct(version: i16) -> CreateTopicsRequest {
        let config = |n: &'static str, v: Option<&'static str>| {
            CreatableTopicConfig::default()
                .with_name(sb(n))
                .with_value(v.map(sb))
        };
        let assign = |p, ids: &[i32]| {
            CreatableReplicaAssignment::default()
                .with_partition_index(p)
                .with_broker_ids(ids.iter().copied().map(BrokerId).collect())
        };
        CreateTopicsRequest::default()
            .with_topics(vec![
                CreatableTopic::default()
                    .with_name(name("a"))
                    .with_num_partitions(3)
                    .with_replication_factor(2)
                    .with_configs(vec![
                        config("retention.ms", Some("1000")),
                        config("x", None),
                    ]),
                CreatableTopic::default()
                    .with_name(name("b"))
                    .with_num_partitions(-1)
                    .with_replication_factor(-1)
                    .with_assignments(vec![assign(0, &[1, 2]), assign(1, &[2])]),
            ])
            .with_timeout_ms(5000)
            .with_validate_only(version >= 1)
    }

    fn delete_topics_body() -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(2); // topic_names
        put_str(&mut b, "a");
        put_str(&mut b, "bb");
        b.put_i32(1000); // timeout_ms
        b.freeze()
    }

    fn delete_topics_struct() -> DeleteTopicsRequest {
        DeleteTopicsRequest::default()
            .with_topic_names(vec![name("a"), name("bb")])
            .with_timeout_ms(1000)
    }

    /// Every request fixture: key, version, body.
    fn request_fixtures() -> Vec<(ApiKey, i16, Bytes)> {
        let mut all = Vec::new();
        for v in 0..=2 {
            all.push((ApiKey::Produce, v, produce_body()));
        }
        all.push((ApiKey::Produce, 0, hex(PY_PRODUCE_V0)));
        all.push((ApiKey::Produce, 1, hex(PY_PRODUCE_V1)));
        all.push((ApiKey::Produce, 2, hex(PY_PRODUCE_V2)));
        for v in 0..=3 {
            all.push((ApiKey::Fetch, v, fetch_body(v)));
        }
        for v in 0..=2 {
            all.push((ApiKey::Fetch, v, hex(PY_FETCH_V0_V2)));
        }
        all.push((ApiKey::Fetch, 3, hex(PY_FETCH_V3)));
        all.push((ApiKey::ListOffsets, 0, list_offsets_body()));
        all.push((ApiKey::ListOffsets, 0, hex(PY_LIST_OFFSETS_V0)));
        for v in 0..=1 {
            all.push((ApiKey::OffsetCommit, v, offset_commit_body(v)));
            all.push((ApiKey::CreateTopics, v, create_topics_body(v)));
        }
        all.push((ApiKey::OffsetCommit, 0, hex(PY_OFFSET_COMMIT_V0)));
        all.push((ApiKey::OffsetCommit, 1, hex(PY_OFFSET_COMMIT_V1)));
        all.push((ApiKey::OffsetFetch, 0, offset_fetch_body()));
        all.push((ApiKey::OffsetFetch, 0, hex(PY_OFFSET_FETCH_V0)));
        all.push((ApiKey::CreateTopics, 0, hex(PY_CREATE_TOPICS_V0)));
        all.push((ApiKey::CreateTopics, 1, hex(PY_CREATE_TOPICS_V1)));
        all.push((ApiKey::DeleteTopics, 0, delete_topics_body()));
        all.push((ApiKey::DeleteTopics, 0, hex(PY_DELETE_TOPICS_V0)));
        all
    }

    // --- Requests: hand-built fixtures.

    #[test]
    fn produce_v0_to_v2_decode_hand_built_bytes() {
        for v in 0..=2 {
            let r = produce(decode_all(ApiKey::Produce, v, &produce_body()));
            assert_eq!(r, produce_struct(), "v{v}");
            assert_eq!(r.transactional_id, None);
            assert_eq!(r.acks, -1);
            assert_eq!(r.timeout_ms, 5000);
            assert_eq!(&*r.topic_data[0].name, "alpha");
            assert_eq!(r.topic_data[0].partition_data[0].index, 0);
            assert_eq!(
                r.topic_data[0].partition_data[0].records.as_deref(),
                Some(&[1u8, 2, 3][..])
            );
            assert_eq!(r.topic_data[0].partition_data[1].index, 7);
            assert_eq!(r.topic_data[0].partition_data[1].records, None);
            assert_eq!(&*r.topic_data[1].name, "b");
            assert!(r.topic_data[1].partition_data.is_empty());
        }
    }

    #[test]
    fn fetch_v0_to_v3_decode_hand_built_bytes() {
        for v in 0..=3 {
            let r = fetch(decode_all(ApiKey::Fetch, v, &fetch_body(v)));
            assert_eq!(r, fetch_struct(v), "v{v}");
            assert_eq!(r.replica_id, BrokerId(-1));
            assert_eq!(r.max_wait_ms, 250);
            assert_eq!(r.min_bytes, 1);
            let want_max = if v >= 3 { 10_000_000 } else { i32::MAX };
            assert_eq!(r.max_bytes, want_max, "v{v}");
            assert_eq!(r.isolation_level, 0);
            assert_eq!((r.session_id, r.session_epoch), (0, -1));
            assert!(r.forgotten_topics_data.is_empty());
            let p = &r.topics[0].partitions[0];
            assert_eq!(
                (p.partition, p.fetch_offset, p.partition_max_bytes),
                (0, 42, 1 << 20)
            );
            assert_eq!(
                (
                    p.current_leader_epoch,
                    p.last_fetched_epoch,
                    p.log_start_offset
                ),
                (-1, -1, -1)
            );
            let p = &r.topics[0].partitions[1];
            assert_eq!(
                (p.partition, p.fetch_offset, p.partition_max_bytes),
                (3, 0, 4096)
            );
            assert_eq!(&*r.topics[1].topic, "empty");
            assert!(r.topics[1].partitions.is_empty());
        }
    }

    #[test]
    fn list_offsets_v0_decodes_hand_built_bytes() {
        let r = list_offsets(decode_all(ApiKey::ListOffsets, 0, &list_offsets_body()));
        assert_eq!(r, list_offsets_struct());
        assert_eq!(r.replica_id, BrokerId(-1));
        assert_eq!(r.isolation_level, 0);
        assert_eq!(&*r.topics[0].name, "orders");
        let parts: Vec<_> = r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.timestamp, p.current_leader_epoch))
            .collect();
        assert_eq!(
            parts,
            [(0, -1, -1), (1, -2, -1), (2, 1_700_000_000_000, -1)]
        );
    }

    #[test]
    fn trailing_bytes_are_left_to_the_caller() {
        let mut body = BytesMut::from(&fetch_body(0)[..]);
        body.put_slice(b"xyz");
        let mut buf = body.freeze();
        let r = fetch(decode_request(ApiKey::Fetch, 0, &mut buf).unwrap());
        assert_eq!(r, fetch_struct(0));
        assert_eq!(&buf[..], b"xyz");
    }

    // --- Requests: kafka-python fixtures.

    #[test]
    fn produce_requests_from_kafka_python_decode() {
        let r = produce(decode_all(ApiKey::Produce, 0, &hex(PY_PRODUCE_V0)));
        assert_eq!((r.acks, r.timeout_ms), (1, 1500));
        assert_eq!(r.topic_data.len(), 1);
        assert_eq!(&*r.topic_data[0].name, "t");
        let p = &r.topic_data[0].partition_data;
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].index, 0);
        assert_eq!(p[0].records.as_ref(), Some(&hex(MS_V0)));

        let r = produce(decode_all(ApiKey::Produce, 1, &hex(PY_PRODUCE_V1)));
        assert_eq!((r.acks, r.timeout_ms), (-1, 30000));
        let got: Vec<(&str, Vec<i32>)> = r
            .topic_data
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.partition_data.iter().map(|p| p.index).collect(),
                )
            })
            .collect();
        assert_eq!(got, [("topic-a", vec![0, 3]), ("b", vec![1])]);
        for t in &r.topic_data {
            for p in &t.partition_data {
                assert_eq!(p.records.as_ref(), Some(&hex(MS_V0)));
            }
        }

        let r = produce(decode_all(ApiKey::Produce, 2, &hex(PY_PRODUCE_V2)));
        assert_eq!((r.acks, r.timeout_ms), (0, 100));
        assert_eq!(&*r.topic_data[0].name, "events");
        let p = &r.topic_data[0].partition_data;
        assert_eq!(p[0].index, 2);
        assert_eq!(p[0].records.as_ref(), Some(&hex(MS_V1)));
    }

    #[test]
    fn fetch_requests_from_kafka_python_decode() {
        for v in 0..=2 {
            let r = fetch(decode_all(ApiKey::Fetch, v, &hex(PY_FETCH_V0_V2)));
            assert_eq!(r.replica_id, BrokerId(-1));
            assert_eq!(
                (r.max_wait_ms, r.min_bytes, r.max_bytes),
                (500, 1, i32::MAX)
            );
            assert_eq!(r.topics.len(), 1);
            assert_eq!(&*r.topics[0].topic, "t");
            let parts: Vec<_> = r.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition, p.fetch_offset, p.partition_max_bytes))
                .collect();
            assert_eq!(parts, [(0, 42, 1048576), (1, 0, 65536)], "v{v}");
        }
        let r = fetch(decode_all(ApiKey::Fetch, 3, &hex(PY_FETCH_V3)));
        assert_eq!(
            (r.max_wait_ms, r.min_bytes, r.max_bytes),
            (100, 1, 52428800)
        );
        let got: Vec<_> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        t.topic.as_str(),
                        p.partition,
                        p.fetch_offset,
                        p.partition_max_bytes,
                    )
                })
            })
            .collect();
        assert_eq!(got, [("events", 2, 7, 1048576), ("t", 0, 0, 4096)]);
        // The v3 layout is not the v0-v2 one: read as v2 it does not decode to the same.
        assert_ne!(
            decode(ApiKey::Fetch, 2, &hex(PY_FETCH_V3)).ok(),
            Some(RequestKind::Fetch(r))
        );
    }

    #[test]
    fn list_offsets_request_from_kafka_python_decodes() {
        let r = list_offsets(decode_all(ApiKey::ListOffsets, 0, &hex(PY_LIST_OFFSETS_V0)));
        assert_eq!(r.replica_id, BrokerId(-1));
        assert_eq!(&*r.topics[0].name, "t");
        let parts: Vec<_> = r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.timestamp))
            .collect();
        assert_eq!(parts, [(0, -1), (1, -2)]);
    }

    // --- Requests: round trips.

    #[test]
    fn requests_round_trip() {
        for v in 0..=2 {
            let r = produce_struct();
            let back = produce(decode_all(ApiKey::Produce, v, &encode_produce_request(&r)));
            assert_eq!(back, r);
        }
        for v in 0..=3 {
            let r = fetch_struct(v);
            let back = fetch(decode_all(ApiKey::Fetch, v, &encode_fetch_request(v, &r)));
            assert_eq!(back, r);
        }
        let r = list_offsets_struct();
        let back = list_offsets(decode_all(
            ApiKey::ListOffsets,
            0,
            &encode_list_offsets_request(&r, 1),
        ));
        assert_eq!(back, r);
    }

    #[test]
    fn kafka_python_requests_round_trip_byte_exact() {
        for (py, v) in [(PY_PRODUCE_V0, 0), (PY_PRODUCE_V1, 1), (PY_PRODUCE_V2, 2)] {
            let r = produce(decode_all(ApiKey::Produce, v, &hex(py)));
            assert_eq!(encode_produce_request(&r), hex(py), "produce v{v}");
        }
        for (py, v) in [
            (PY_FETCH_V0_V2, 0),
            (PY_FETCH_V0_V2, 1),
            (PY_FETCH_V0_V2, 2),
            (PY_FETCH_V3, 3),
        ] {
            let r = fetch(decode_all(ApiKey::Fetch, v, &hex(py)));
            assert_eq!(encode_fetch_request(v, &r), hex(py), "fetch v{v}");
        }
        let r = list_offsets(decode_all(ApiKey::ListOffsets, 0, &hex(PY_LIST_OFFSETS_V0)));
        // kafka-python sends max_num_offsets 1, which the typed request does not keep.
        assert_eq!(encode_list_offsets_request(&r, 1), hex(PY_LIST_OFFSETS_V0));
    }

    // --- Responses: byte-exact encodings.

    fn produce_response() -> ProduceResponse {
        ProduceResponse::default()
            .with_throttle_time_ms(7)
            .with_responses(vec![
                TopicProduceResponse::default()
                    .with_name(name("t"))
                    .with_partition_responses(vec![
                        PartitionProduceResponse::default()
                            .with_index(0)
                            .with_base_offset(42)
                            .with_log_append_time_ms(1_700_000_000_000),
                        PartitionProduceResponse::default()
                            .with_index(1)
                            .with_error_code(6)
                            .with_base_offset(-1),
                    ]),
            ])
    }

    #[test]
    fn produce_response_v0_to_v2_encode_byte_exact() {
        for v in 0..=2 {
            let mut want = BytesMut::new();
            want.put_i32(1); // responses
            put_str(&mut want, "t");
            want.put_i32(2); // partitions
            want.put_i32(0); // index
            want.put_i16(0); // error_code
            want.put_i64(42); // base_offset
            if v >= 2 {
                want.put_i64(1_700_000_000_000); // log_append_time_ms
            }
            want.put_i32(1);
            want.put_i16(6);
            want.put_i64(-1);
            if v >= 2 {
                want.put_i64(-1);
            }
            if v >= 1 {
                want.put_i32(7); // throttle_time_ms, at the end
            }
            let got = encode(ApiKey::Produce, v, produce_response().into());
            assert_eq!(got, want.freeze(), "v{v}");
        }
    }

    #[test]
    fn produce_responses_match_kafka_python() {
        let one = |error_code, base_offset, log_append_time_ms| {
            PartitionProduceResponse::default()
                .with_index(0)
                .with_error_code(error_code)
                .with_base_offset(base_offset)
                .with_log_append_time_ms(log_append_time_ms)
        };
        let resp = |parts, throttle| {
            ProduceResponse::default()
                .with_throttle_time_ms(throttle)
                .with_responses(vec![
                    TopicProduceResponse::default()
                        .with_name(name("t"))
                        .with_partition_responses(parts),
                ])
        };
        let v0 = resp(vec![one(0, 42, -1)], 0);
        assert_eq!(
            encode(ApiKey::Produce, 0, v0.into()),
            hex(PY_PRODUCE_RESP_V0)
        );
        let v1 = resp(vec![one(0, 42, -1), one(6, -1, -1).with_index(1)], 7);
        assert_eq!(
            encode(ApiKey::Produce, 1, v1.into()),
            hex(PY_PRODUCE_RESP_V1)
        );
        let v2 = resp(vec![one(0, 42, 1_700_000_000_000)], 0);
        assert_eq!(
            encode(ApiKey::Produce, 2, v2.into()),
            hex(PY_PRODUCE_RESP_V2)
        );
    }

    fn fetch_response() -> FetchResponse {
        FetchResponse::default()
            .with_throttle_time_ms(5)
            .with_responses(vec![
                FetchableTopicResponse::default()
                    .with_topic(name("t"))
                    .with_partitions(vec![
                        PartitionData::default()
                            .with_partition_index(0)
                            .with_high_watermark(3)
                            .with_records(Some(Bytes::from_static(b"msgset"))),
                        PartitionData::default()
                            .with_partition_index(1)
                            .with_error_code(1)
                            .with_high_watermark(-1)
                            .with_records(None),
                    ]),
            ])
    }

    #[test]
    fn fetch_response_v0_to_v3_encode_byte_exact() {
        for v in 0..=3 {
            let mut want = BytesMut::new();
            if v >= 1 {
                want.put_i32(5); // throttle_time_ms, first
            }
            want.put_i32(1); // responses
            put_str(&mut want, "t");
            want.put_i32(2); // partitions
            want.put_i32(0); // partition_index
            want.put_i16(0); // error_code
            want.put_i64(3); // high_watermark
            want.put_i32(6); // records
            want.put_slice(b"msgset");
            want.put_i32(1);
            want.put_i16(1);
            want.put_i64(-1);
            want.put_i32(0); // records: None is written empty, never null
            let got = encode(ApiKey::Fetch, v, fetch_response().into());
            assert_eq!(got, want.freeze(), "v{v}");
        }
    }

    #[test]
    fn fetch_responses_match_kafka_python() {
        let part = |index, error_code, hw, records: Option<Bytes>| {
            PartitionData::default()
                .with_partition_index(index)
                .with_error_code(error_code)
                .with_high_watermark(hw)
                .with_records(records)
        };
        let resp = |parts, throttle| {
            FetchResponse::default()
                .with_throttle_time_ms(throttle)
                .with_responses(vec![
                    FetchableTopicResponse::default()
                        .with_topic(name("t"))
                        .with_partitions(parts),
                ])
        };
        let v0 = resp(
            vec![part(0, 0, 3, Some(hex(MS_V0))), part(1, 1, -1, None)],
            0,
        );
        assert_eq!(encode(ApiKey::Fetch, 0, v0.into()), hex(PY_FETCH_RESP_V0));
        let v1 = resp(vec![part(0, 0, 3, Some(hex(MS_V1)))], 5);
        for v in 1..=3 {
            // v1, v2 and v3 share one layout.
            assert_eq!(
                encode(ApiKey::Fetch, v, v1.clone().into()),
                hex(PY_FETCH_RESP_V1),
                "v{v}"
            );
        }
    }

    #[test]
    fn list_offsets_response_v0_encodes_byte_exact() {
        let r = ListOffsetsResponse::default()
            .with_throttle_time_ms(9) // not in v0
            .with_topics(vec![
                ListOffsetsTopicResponse::default()
                    .with_name(name("orders"))
                    .with_partitions(vec![
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(0)
                            .with_timestamp(1_700_000_000_000) // not in v0
                            .with_offset(42),
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(1)
                            .with_offset(0),
                        ListOffsetsPartitionResponse::default()
                            .with_partition_index(2)
                            .with_error_code(3)
                            .with_offset(-1),
                    ]),
            ]);
        let mut want = BytesMut::new();
        want.put_i32(1); // topics
        put_str(&mut want, "orders");
        want.put_i32(3); // partitions
        want.put_i32(0); // partition_index
        want.put_i16(0); // error_code
        want.put_i32(1); // old_style_offsets
        want.put_i64(42);
        want.put_i32(1);
        want.put_i16(0);
        want.put_i32(1);
        want.put_i64(0);
        want.put_i32(2);
        want.put_i16(3);
        want.put_i32(0); // no offset: []
        assert_eq!(encode(ApiKey::ListOffsets, 0, r.into()), want.freeze());
    }

    #[test]
    fn list_offsets_response_matches_kafka_python() {
        let r = ListOffsetsResponse::default().with_topics(vec![
            ListOffsetsTopicResponse::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(42),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_error_code(3),
                ]),
        ]);
        assert_eq!(
            encode(ApiKey::ListOffsets, 0, r.into()),
            hex(PY_LIST_OFFSETS_RESP_V0)
        );
    }

    #[test]
    fn fields_the_old_versions_lack_are_dropped() {
        // Newer-only fields set to non-defaults change nothing in the legacy bytes.
        let mut p = produce_response();
        p.node_endpoints.push(Default::default());
        for part in &mut p.responses[0].partition_responses {
            part.log_start_offset = 77;
            part.error_message = Some(StrBytes::from_static_str("boom"));
            part.record_errors
                .push(BatchIndexAndErrorMessage::default().with_batch_index(1));
        }
        for v in 0..=2 {
            assert_eq!(
                encode(ApiKey::Produce, v, p.clone().into()),
                encode(ApiKey::Produce, v, produce_response().into())
            );
        }
        let mut f = fetch_response().with_error_code(0).with_session_id(99);
        for part in &mut f.responses[0].partitions {
            part.last_stable_offset = 2;
            part.log_start_offset = 1;
            part.aborted_transactions = None;
            part.preferred_read_replica = BrokerId(3);
        }
        for v in 0..=3 {
            assert_eq!(
                encode(ApiKey::Fetch, v, f.clone().into()),
                encode(ApiKey::Fetch, v, fetch_response().into())
            );
        }
    }

    // --- Responses: round trips.

    #[test]
    fn responses_round_trip() {
        for v in 0..=2 {
            // Only what v carries survives; build the response with just that.
            let mut r = produce_response();
            if v < 1 {
                r.throttle_time_ms = 0;
            }
            if v < 2 {
                for p in &mut r.responses[0].partition_responses {
                    p.log_append_time_ms = -1;
                }
            }
            let bytes = encode(ApiKey::Produce, v, r.clone().into());
            assert_eq!(decode_produce_response(v, bytes), r, "produce v{v}");
        }
        for v in 0..=3 {
            let mut r = fetch_response();
            if v < 1 {
                r.throttle_time_ms = 0;
            }
            let bytes = encode(ApiKey::Fetch, v, r.clone().into());
            // None comes back as the empty message set it was written as.
            r.responses[0].partitions[1].records = Some(Bytes::new());
            assert_eq!(decode_fetch_response(v, bytes), r, "fetch v{v}");
        }
        let r = ListOffsetsResponse::default().with_topics(vec![
            ListOffsetsTopicResponse::default()
                .with_name(name("orders"))
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(42),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_error_code(3),
                ]),
        ]);
        let bytes = encode(ApiKey::ListOffsets, 0, r.clone().into());
        assert_eq!(decode_list_offsets_response(bytes), r);
    }

    // --- Malformed input.

    #[test]
    fn every_truncation_is_an_error() {
        for (key, v, body) in request_fixtures() {
            decode_all(key, v, &body);
            for len in 0..body.len() {
                let cut = body.slice(..len);
                assert!(
                    decode(key, v, &cut).is_err(),
                    "{key:?} v{v} cut to {len} of {} bytes decoded",
                    body.len()
                );
            }
        }
    }

    #[test]
    fn oversized_and_negative_counts_are_errors() {
        // A huge topic count with few bytes behind it: refused before allocating.
        for count in [i32::MAX, 1 << 20, -1, i32::MIN] {
            let mut b = BytesMut::new();
            b.put_i16(1);
            b.put_i32(1000);
            b.put_i32(count);
            b.put_slice(&[0; 64]);
            let err = decode(ApiKey::Produce, 0, &b.freeze()).unwrap_err();
            assert!(err.to_string().contains("topic_data"), "{err}");
        }
        // A huge partition count.
        for v in 0..=3 {
            let mut b = BytesMut::new();
            b.put_i32(-1);
            b.put_i32(0);
            b.put_i32(0);
            if v >= 3 {
                b.put_i32(0);
            }
            b.put_i32(1);
            put_str(&mut b, "t");
            b.put_i32(i32::MAX);
            b.put_slice(&[0; 100]);
            let err = decode(ApiKey::Fetch, v, &b.freeze()).unwrap_err();
            assert!(err.to_string().contains("cannot fit"), "{err}");
        }
        // A count the bytes remaining could only hold if elements were 1 byte:
        // refused by the element's real minimum size (16 bytes here).
        let mut b = BytesMut::new();
        b.put_i32(-1);
        b.put_i32(1);
        put_str(&mut b, "t");
        b.put_i32(2);
        b.put_slice(&[0; 31]);
        let err = decode(ApiKey::ListOffsets, 0, &b.freeze()).unwrap_err();
        assert!(err.to_string().contains("cannot fit"), "{err}");
    }

    #[test]
    fn bad_string_and_bytes_lengths_are_errors() {
        let produce_with = |name_len: i16, name: &[u8], records_len: i32| {
            let mut b = BytesMut::new();
            b.put_i16(1);
            b.put_i32(1000);
            b.put_i32(1);
            b.put_i16(name_len);
            b.put_slice(name);
            b.put_i32(1);
            b.put_i32(0);
            b.put_i32(records_len);
            b.put_slice(&[0; 8]);
            b.freeze()
        };
        for (name_len, name, records_len) in [
            (i16::MAX, &b"t"[..], 0), // string longer than the buffer
            (-1, &b""[..], 0),        // null topic name
            (-2, &b""[..], 0),
            (1, &b"t"[..], i32::MAX), // records longer than the buffer
            (1, &b"t"[..], 9),
            (1, &b"t"[..], -2),
            (1, &b"t"[..], i32::MIN),
            (2, &[0xc3, 0x28][..], 0), // not UTF-8
        ] {
            let body = produce_with(name_len, name, records_len);
            assert!(
                decode(ApiKey::Produce, 0, &body).is_err(),
                "name_len {name_len}, records_len {records_len}"
            );
        }
        // The same frame with sane lengths decodes (the cases above differ only there).
        let ok = produce(decode(ApiKey::Produce, 0, &produce_with(1, b"t", 8)).unwrap());
        assert_eq!(
            ok.topic_data[0].partition_data[0]
                .records
                .as_ref()
                .unwrap()
                .len(),
            8
        );
        let ok = produce(decode(ApiKey::Produce, 0, &produce_with(1, b"t", -1)).unwrap());
        assert_eq!(ok.topic_data[0].partition_data[0].records, None);
    }

    #[test]
    fn garbage_never_panics() {
        let keys = [
            (ApiKey::Produce, 0..=2),
            (ApiKey::Fetch, 0..=3),
            (ApiKey::ListOffsets, 0..=0),
            (ApiKey::OffsetCommit, 0..=1),
            (ApiKey::OffsetFetch, 0..=0),
            (ApiKey::CreateTopics, 0..=1),
            (ApiKey::DeleteTopics, 0..=0),
        ];
        // xorshift64: deterministic random bodies.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 96) as usize;
            let body: Bytes = (0..len).map(|_| next() as u8).collect::<Vec<u8>>().into();
            for (key, versions) in keys.clone() {
                for v in versions {
                    let _ = decode(key, v, &body);
                }
            }
        }
        // Every fixture with each byte corrupted in turn.
        for (key, v, body) in request_fixtures() {
            for i in 0..body.len() {
                for mask in [0x01u8, 0x80, 0xff] {
                    let mut bad = body.to_vec();
                    bad[i] ^= mask;
                    let _ = decode(key, v, &Bytes::from(bad));
                }
            }
        }
    }

    #[test]
    fn other_apis_and_versions_are_refused() {
        for (key, v) in [
            (ApiKey::Produce, 3),
            (ApiKey::Produce, -1),
            (ApiKey::Fetch, 4),
            (ApiKey::ListOffsets, 1),
            (ApiKey::OffsetCommit, 2),
            (ApiKey::OffsetFetch, 1),
            (ApiKey::CreateTopics, 2),
            (ApiKey::DeleteTopics, 1),
            (ApiKey::OffsetCommit, -1),
            (ApiKey::Metadata, 0),
        ] {
            assert!(!carries(key, v));
            assert!(decode(key, v, &produce_body()).is_err(), "{key:?} v{v}");
            let mut buf = BytesMut::new();
            let resp = ResponseKind::Produce(produce_response());
            assert!(encode_response(key, v, &resp, &mut buf).is_err());
            assert!(buf.is_empty());
        }
        // A response that is not the key's.
        let mut buf = BytesMut::new();
        let resp = ResponseKind::Fetch(fetch_response());
        assert!(encode_response(ApiKey::Produce, 0, &resp, &mut buf).is_err());
        assert!(encode_response(ApiKey::ListOffsets, 0, &resp, &mut buf).is_err());
        assert!(buf.is_empty());
    }

    #[test]
    fn an_encoding_error_leaves_the_buffer_as_it_was() {
        let long = "a".repeat(i16::MAX as usize + 1);
        let mut r = fetch_response();
        r.responses.push(
            FetchableTopicResponse::default().with_topic(TopicName(StrBytes::from_string(long))),
        );
        let mut buf = BytesMut::from(&b"head"[..]);
        let err = encode_response(ApiKey::Fetch, 1, &r.into(), &mut buf).unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        assert_eq!(&buf[..], b"head");
    }

    // --- OffsetCommit, OffsetFetch, CreateTopics, DeleteTopics requests.

    #[test]
    fn offset_commit_v0_v1_decode_hand_built_bytes() {
        for v in 0..=1 {
            let r = offset_commit(decode_all(ApiKey::OffsetCommit, v, &offset_commit_body(v)));
            assert_eq!(r, offset_commit_struct(v), "v{v}");
            assert_eq!(&*r.group_id, "orders-app");
            let want = if v >= 1 { (7, "m-1") } else { (-1, "") };
            assert_eq!(
                (r.generation_id_or_member_epoch, r.member_id.as_str()),
                want
            );
            assert_eq!((r.group_instance_id, r.retention_time_ms), (None, -1));
            let got: Vec<_> = r.topics[0]
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition_index,
                        p.committed_offset,
                        p.committed_leader_epoch,
                        p.committed_metadata.as_deref(),
                    )
                })
                .collect();
            assert_eq!(got, [(0, 42, -1, Some("meta")), (5, 0, -1, None)], "v{v}");
            assert_eq!(&*r.topics[1].name, "empty");
            assert!(r.topics[1].partitions.is_empty());
        }
    }

    #[test]
    fn offset_fetch_v0_decodes_hand_built_bytes() {
        let r = offset_fetch(decode_all(ApiKey::OffsetFetch, 0, &offset_fetch_body()));
        assert_eq!(r, offset_fetch_struct());
        assert_eq!(&*r.group_id, "g1");
        assert!(!r.require_stable);
        assert!(r.groups.is_empty());
        let topics = r.topics.unwrap();
        assert_eq!(&*topics[0].name, "t");
        assert_eq!(topics[0].partition_indexes, [0, 3]);
        assert_eq!(&*topics[1].name, "u");
        assert!(topics[1].partition_indexes.is_empty());
        // Null topics ("all", v2+) is not v0: a negative count is an error.
        let mut b = BytesMut::new();
        put_str(&mut b, "g1");
        b.put_i32(-1);
        assert!(decode(ApiKey::OffsetFetch, 0, &b.freeze()).is_err());
    }

    #[test]
    fn create_topics_v0_v1_decode_hand_built_bytes() {
        for v in 0..=1 {
            let r = create_topics(decode_all(ApiKey::CreateTopics, v, &create_topics_body(v)));
            assert_eq!(r, create_topics_struct(v), "v{v}");
            assert_eq!(r.timeout_ms, 5000);
            assert_eq!(r.validate_only, v >= 1);
            let a = &r.topics[0];
            assert_eq!(
                (a.name.as_str(), a.num_partitions, a.replication_factor),
                ("a", 3, 2)
            );
            assert!(a.assignments.is_empty());
            let configs: Vec<_> = a
                .configs
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_deref()))
                .collect();
            assert_eq!(configs, [("retention.ms", Some("1000")), ("x", None)]);
            let b = &r.topics[1];
            assert_eq!((b.num_partitions, b.replication_factor), (-1, -1));
            let assignments: Vec<_> = b
                .assignments
                .iter()
                .map(|a| {
                    let ids: Vec<i32> = a.broker_ids.iter().map(|id| id.0).collect();
                    (a.partition_index, ids)
                })
                .collect();
            assert_eq!(assignments, [(0, vec![1, 2]), (1, vec![2])]);
            assert!(b.configs.is_empty());
        }
        // v1 reads one more byte than v0.
        assert!(decode(ApiKey::CreateTopics, 1, &create_topics_body(0)).is_err());
    }

    #[test]
    fn delete_topics_v0_decodes_hand_built_bytes() {
        let r = delete_topics(decode_all(ApiKey::DeleteTopics, 0, &delete_topics_body()));
        assert_eq!(r, delete_topics_struct());
        let names: Vec<_> = r.topic_names.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, ["a", "bb"]);
        assert_eq!(r.timeout_ms, 1000);
        assert!(r.topics.is_empty());
    }

    #[test]
    fn offset_commit_requests_from_kafka_python_decode() {
        let r = offset_commit(decode_all(
            ApiKey::OffsetCommit,
            0,
            &hex(PY_OFFSET_COMMIT_V0),
        ));
        assert_eq!(&*r.group_id, "g");
        assert_eq!(
            (r.generation_id_or_member_epoch, r.member_id.as_str()),
            (-1, "")
        );
        let got: Vec<_> = r
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    (
                        t.name.as_str(),
                        p.partition_index,
                        p.committed_offset,
                        p.committed_metadata.as_deref(),
                    )
                })
            })
            .collect();
        assert_eq!(
            got,
            [
                ("t", 0, 42, Some("meta")),
                ("t", 1, 7, None),
                ("events", 3, 0, Some(""))
            ]
        );

        let r = offset_commit(decode_all(
            ApiKey::OffsetCommit,
            1,
            &hex(PY_OFFSET_COMMIT_V1),
        ));
        assert_eq!(&*r.group_id, "grp");
        assert_eq!(
            (r.generation_id_or_member_epoch, r.member_id.as_str()),
            (5, "consumer-1-abc")
        );
        assert_eq!(r.retention_time_ms, -1);
        let got: Vec<_> = r.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.committed_metadata.as_deref(),
                )
            })
            .collect();
        // The commit timestamps (-1, 1700000000000) are read past and dropped.
        assert_eq!(got, [(0, 42, Some("m")), (2, 100, None)]);
    }

    #[test]
    fn offset_fetch_and_topic_admin_requests_from_kafka_python_decode() {
        let r = offset_fetch(decode_all(ApiKey::OffsetFetch, 0, &hex(PY_OFFSET_FETCH_V0)));
        assert_eq!(&*r.group_id, "g");
        let got: Vec<_> = r
            .topics
            .as_ref()
            .unwrap()
            .iter()
            .map(|t| (t.name.as_str(), t.partition_indexes.clone()))
            .collect();
        assert_eq!(got, [("t", vec![0, 1, 2]), ("events", vec![])]);

        for v in 0..=1 {
            let py = if v == 0 {
                PY_CREATE_TOPICS_V0
            } else {
                PY_CREATE_TOPICS_V1
            };
            let r = create_topics(decode_all(ApiKey::CreateTopics, v, &hex(py)));
            assert_eq!((r.timeout_ms, r.validate_only), (30000, v == 1));
            let t = &r.topics[0];
            assert_eq!(
                (t.name.as_str(), t.num_partitions, t.replication_factor),
                ("new-topic", 3, 1)
            );
            assert!(t.assignments.is_empty());
            let configs: Vec<_> = t
                .configs
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_deref()))
                .collect();
            assert_eq!(
                configs,
                [("cleanup.policy", Some("compact")), ("retention.ms", None)]
            );
            let t = &r.topics[1];
            assert_eq!(
                (t.name.as_str(), t.num_partitions, t.replication_factor),
                ("manual", -1, -1)
            );
            let assignments: Vec<_> = t
                .assignments
                .iter()
                .map(|a| {
                    let ids: Vec<i32> = a.broker_ids.iter().map(|id| id.0).collect();
                    (a.partition_index, ids)
                })
                .collect();
            assert_eq!(assignments, [(0, vec![1, 2]), (1, vec![2, 3])], "v{v}");
        }

        let r = delete_topics(decode_all(
            ApiKey::DeleteTopics,
            0,
            &hex(PY_DELETE_TOPICS_V0),
        ));
        let names: Vec<_> = r.topic_names.iter().map(|n| n.as_str()).collect();
        assert_eq!((names, r.timeout_ms), (vec!["a", "topic-b"], 15000));
    }

    /// OffsetFetch v0 is v1's layout, CreateTopics v1 is v2's and DeleteTopics
    /// v0 is v1's (kafka-python sends the same bytes, see the fixtures):
    /// kafka-protocol's own decoder at that next version gives the same structs.
    #[test]
    fn requests_match_kafka_protocol_at_the_same_layout() {
        use kafka_protocol::protocol::Decodable;
        for body in [hex(PY_OFFSET_FETCH_V0), offset_fetch_body()] {
            let ours = offset_fetch(decode_all(ApiKey::OffsetFetch, 0, &body));
            let theirs = OffsetFetchRequest::decode(&mut body.clone(), 1).unwrap();
            assert_eq!(ours, theirs);
        }
        for body in [hex(PY_CREATE_TOPICS_V1), create_topics_body(1)] {
            let ours = create_topics(decode_all(ApiKey::CreateTopics, 1, &body));
            let theirs = CreateTopicsRequest::decode(&mut body.clone(), 2).unwrap();
            assert_eq!(ours, theirs);
        }
        for body in [hex(PY_DELETE_TOPICS_V0), delete_topics_body()] {
            let ours = delete_topics(decode_all(ApiKey::DeleteTopics, 0, &body));
            let theirs = DeleteTopicsRequest::decode(&mut body.clone(), 1).unwrap();
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn group_and_admin_requests_round_trip() {
        for v in 0..=1 {
            let r = offset_commit_struct(v);
            let bytes = encode_offset_commit_request(v, &r, &[]);
            assert_eq!(
                offset_commit(decode_all(ApiKey::OffsetCommit, v, &bytes)),
                r
            );
            let r = create_topics_struct(v);
            let bytes = encode_create_topics_request(v, &r);
            assert_eq!(
                create_topics(decode_all(ApiKey::CreateTopics, v, &bytes)),
                r
            );
        }
        let r = offset_fetch_struct();
        let bytes = encode_offset_fetch_request(&r);
        assert_eq!(offset_fetch(decode_all(ApiKey::OffsetFetch, 0, &bytes)), r);
        let r = delete_topics_struct();
        let bytes = encode_delete_topics_request(&r);
        assert_eq!(
            delete_topics(decode_all(ApiKey::DeleteTopics, 0, &bytes)),
            r
        );
    }

    #[test]
    fn kafka_python_group_and_admin_requests_round_trip_byte_exact() {
        let r = offset_commit(decode_all(
            ApiKey::OffsetCommit,
            0,
            &hex(PY_OFFSET_COMMIT_V0),
        ));
        assert_eq!(
            encode_offset_commit_request(0, &r, &[]),
            hex(PY_OFFSET_COMMIT_V0)
        );
        let r = offset_commit(decode_all(
            ApiKey::OffsetCommit,
            1,
            &hex(PY_OFFSET_COMMIT_V1),
        ));
        // The commit timestamps kafka-python sent, which the typed request drops.
        assert_eq!(
            encode_offset_commit_request(1, &r, &[-1, 1_700_000_000_000]),
            hex(PY_OFFSET_COMMIT_V1)
        );
        let r = offset_fetch(decode_all(ApiKey::OffsetFetch, 0, &hex(PY_OFFSET_FETCH_V0)));
        assert_eq!(encode_offset_fetch_request(&r), hex(PY_OFFSET_FETCH_V0));
        for (py, v) in [(PY_CREATE_TOPICS_V0, 0), (PY_CREATE_TOPICS_V1, 1)] {
            let r = create_topics(decode_all(ApiKey::CreateTopics, v, &hex(py)));
            assert_eq!(encode_create_topics_request(v, &r), hex(py), "v{v}");
        }
        let r = delete_topics(decode_all(
            ApiKey::DeleteTopics,
            0,
            &hex(PY_DELETE_TOPICS_V0),
        ));
        assert_eq!(encode_delete_topics_request(&r), hex(PY_DELETE_TOPICS_V0));
    }

    #[test]
    fn nullable_strings_and_booleans() {
        // committed_metadata: null, empty, and a length below -1.
        let commit_with = |meta_len: i16, meta: &[u8]| {
            let mut b = BytesMut::new();
            put_str(&mut b, "g");
            b.put_i32(1);
            put_str(&mut b, "t");
            b.put_i32(1);
            b.put_i32(0);
            b.put_i64(1);
            b.put_i16(meta_len);
            b.put_slice(meta);
            b.freeze()
        };
        let meta = |body: &Bytes| -> Option<StrBytes> {
            let r = offset_commit(decode_all(ApiKey::OffsetCommit, 0, body));
            r.topics[0].partitions[0].committed_metadata.clone()
        };
        assert_eq!(meta(&commit_with(-1, b"")), None);
        assert_eq!(meta(&commit_with(0, b"")), Some(sb("")));
        assert_eq!(meta(&commit_with(2, b"ok")), Some(sb("ok")));
        for (len, bytes) in [
            (-2, &b""[..]),
            (i16::MIN, &b""[..]),
            (3, &b"ok"[..]),
            (2, &[0xc3, 0x28][..]), // not UTF-8
        ] {
            assert!(
                decode(ApiKey::OffsetCommit, 0, &commit_with(len, bytes)).is_err(),
                "length {len}"
            );
        }
        // validate_only: any non-zero byte is true, as Kafka reads it.
        let mut body = create_topics_body(0).to_vec();
        body.push(0);
        for (byte, want) in [(0u8, false), (1, true), (2, true), (0xff, true)] {
            *body.last_mut().unwrap() = byte;
            let r = create_topics(decode_all(ApiKey::CreateTopics, 1, &body.clone().into()));
            assert_eq!(r.validate_only, want, "{byte:#x}");
        }
    }

    #[test]
    fn group_and_admin_counts_are_checked_before_allocating() {
        // Each array of each new request, given a count its bytes cannot hold,
        // is refused by name. `prefix` is everything before the count.
        let cases: Vec<(ApiKey, i16, BytesMut, &str)> = vec![
            (ApiKey::OffsetCommit, 0, str_prefix(&["g"]), "topics"),
            (
                ApiKey::OffsetCommit,
                1,
                {
                    let mut b = str_prefix(&["g"]);
                    b.put_i32(1);
                    put_str(&mut b, "m");
                    b.put_i32(1);
                    put_str(&mut b, "t");
                    b
                },
                "topics[].partitions",
            ),
            (ApiKey::OffsetFetch, 0, str_prefix(&["g"]), "topics"),
            (
                ApiKey::OffsetFetch,
                0,
                {
                    let mut b = str_prefix(&["g"]);
                    b.put_i32(1);
                    put_str(&mut b, "t");
                    b
                },
                "topics[].partition_indexes",
            ),
            (ApiKey::CreateTopics, 0, BytesMut::new(), "topics"),
            (
                ApiKey::CreateTopics,
                1,
                {
                    let mut b = BytesMut::new();
                    b.put_i32(1);
                    put_str(&mut b, "t");
                    b.put_i32(1);
                    b.put_i16(1);
                    b
                },
                "topics[].assignments",
            ),
            (
                ApiKey::CreateTopics,
                0,
                {
                    let mut b = BytesMut::new();
                    b.put_i32(1);
                    put_str(&mut b, "t");
                    b.put_i32(1);
                    b.put_i16(1);
                    b.put_i32(1);
                    b.put_i32(0);
                    b
                },
                "assignments[].broker_ids",
            ),
            (
                ApiKey::CreateTopics,
                0,
                {
                    let mut b = BytesMut::new();
                    b.put_i32(1);
                    put_str(&mut b, "t");
                    b.put_i32(1);
                    b.put_i16(1);
                    b.put_i32(0);
                    b
                },
                "topics[].configs",
            ),
            (ApiKey::DeleteTopics, 0, BytesMut::new(), "topic_names"),
        ];
        for (key, v, prefix, field) in cases {
            for count in [i32::MAX, 1 << 20, 40, -1, i32::MIN] {
                let mut b = prefix.clone();
                b.put_i32(count);
                b.put_slice(&[0; 64]); // 64 bytes: short of 40 elements of any of these
                let err = decode(key, v, &b.freeze()).unwrap_err().to_string();
                assert!(
                    err.starts_with(&format!("{field}:")),
                    "{key:?} v{v} count {count}: {err}"
                );
            }
        }
        // A count that would fit at one byte an element but not at the
        // element's real minimum: OffsetCommit v1 partitions take 22 bytes.
        let mut b = str_prefix(&["g"]);
        b.put_i32(1);
        put_str(&mut b, "m");
        b.put_i32(1);
        put_str(&mut b, "t");
        b.put_i32(2);
        b.put_slice(&[0; 43]);
        let err = decode(ApiKey::OffsetCommit, 1, &b.freeze()).unwrap_err();
        assert!(err.to_string().contains("cannot fit"), "{err}");
    }

    fn str_prefix(strings: &[&str]) -> BytesMut {
        let mut b = BytesMut::new();
        for s in strings {
            put_str(&mut b, s);
        }
        b
    }

    // --- OffsetCommit, OffsetFetch, CreateTopics, DeleteTopics responses.

    fn offset_commit_response() -> OffsetCommitResponse {
        let part = |partition_index, error_code| {
            OffsetCommitResponsePartition::default()
                .with_partition_index(partition_index)
                .with_error_code(error_code)
        };
        OffsetCommitResponse::default().with_topics(vec![
            OffsetCommitResponseTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![part(0, 0), part(1, 25)]),
        ])
    }

    fn offset_fetch_response() -> OffsetFetchResponse {
        let part =
            |partition_index, committed_offset, metadata: Option<&'static str>, error_code| {
                OffsetFetchResponsePartition::default()
                    .with_partition_index(partition_index)
                    .with_committed_offset(committed_offset)
                    .with_metadata(metadata.map(sb))
                    .with_error_code(error_code)
            };
        OffsetFetchResponse::default().with_topics(vec![
            OffsetFetchResponseTopic::default()
                .with_name(name("t"))
                .with_partitions(vec![
                    part(0, 42, Some("meta"), 0),
                    part(1, -1, Some(""), 0),
                    part(2, -1, None, 16),
                ]),
        ])
    }

    fn create_topics_response() -> CreateTopicsResponse {
        CreateTopicsResponse::default().with_topics(vec![
            CreatableTopicResult::default()
                .with_name(name("new-topic"))
                .with_error_message(None),
            CreatableTopicResult::default()
                .with_name(name("manual"))
                .with_error_code(36)
                .with_error_message(Some(sb("Topic 'manual' already exists."))),
        ])
    }

    fn delete_topics_response() -> DeleteTopicsResponse {
        DeleteTopicsResponse::default().with_responses(vec![
            DeletableTopicResult::default().with_name(Some(name("a"))),
            DeletableTopicResult::default()
                .with_name(Some(name("topic-b")))
                .with_error_code(3),
        ])
    }

    #[test]
    fn group_and_admin_responses_match_kafka_python() {
        for v in 0..=1 {
            assert_eq!(
                encode(ApiKey::OffsetCommit, v, offset_commit_response().into()),
                hex(PY_OFFSET_COMMIT_RESP_V0),
                "v{v}"
            );
        }
        assert_eq!(
            encode(ApiKey::OffsetFetch, 0, offset_fetch_response().into()),
            hex(PY_OFFSET_FETCH_RESP_V0)
        );
        assert_eq!(
            encode(ApiKey::CreateTopics, 0, create_topics_response().into()),
            hex(PY_CREATE_TOPICS_RESP_V0)
        );
        assert_eq!(
            encode(ApiKey::CreateTopics, 1, create_topics_response().into()),
            hex(PY_CREATE_TOPICS_RESP_V1)
        );
        assert_eq!(
            encode(ApiKey::DeleteTopics, 0, delete_topics_response().into()),
            hex(PY_DELETE_TOPICS_RESP_V0)
        );
    }

    #[test]
    fn group_and_admin_responses_encode_byte_exact() {
        let mut want = BytesMut::new();
        want.put_i32(1); // topics
        put_str(&mut want, "t");
        want.put_i32(3); // partitions
        want.put_i32(0); // partition_index
        want.put_i64(42); // committed_offset
        put_str(&mut want, "meta"); // metadata
        want.put_i16(0); // error_code
        want.put_i32(1);
        want.put_i64(-1);
        put_str(&mut want, "");
        want.put_i16(0);
        want.put_i32(2);
        want.put_i64(-1);
        want.put_i16(-1); // metadata: null
        want.put_i16(16);
        assert_eq!(
            encode(ApiKey::OffsetFetch, 0, offset_fetch_response().into()),
            want.freeze()
        );
        for v in 0..=1 {
            let mut want = BytesMut::new();
            want.put_i32(2); // topics
            put_str(&mut want, "new-topic");
            want.put_i16(0); // error_code
            if v >= 1 {
                want.put_i16(-1); // error_message: null
            }
            put_str(&mut want, "manual");
            want.put_i16(36);
            if v >= 1 {
                put_str(&mut want, "Topic 'manual' already exists.");
            }
            assert_eq!(
                encode(ApiKey::CreateTopics, v, create_topics_response().into()),
                want.freeze(),
                "v{v}"
            );
        }
    }

    /// The old layouts are kafka-protocol's at a version it still has, less the
    /// throttle time that version put first: OffsetCommit v0–v1 = v2, OffsetFetch
    /// v0 = v1, CreateTopics v1 = v2 without throttle, DeleteTopics v0 = v1 without.
    #[test]
    fn responses_match_kafka_protocol_at_the_same_layout() {
        // kafka-protocol's encoding at `version`, less its first `skip` bytes.
        fn theirs(
            r: &impl kafka_protocol::protocol::Encodable,
            version: i16,
            skip: usize,
        ) -> Bytes {
            let mut b = BytesMut::new();
            r.encode(&mut b, version).unwrap();
            b.freeze().slice(skip..)
        }
        let oc = offset_commit_response();
        for v in 0..=1 {
            assert_eq!(
                encode(ApiKey::OffsetCommit, v, oc.clone().into()),
                theirs(&oc, 2, 0)
            );
        }
        let of = offset_fetch_response();
        assert_eq!(
            encode(ApiKey::OffsetFetch, 0, of.clone().into()),
            theirs(&of, 1, 0)
        );
        let ct = create_topics_response().with_throttle_time_ms(9);
        assert_eq!(
            encode(ApiKey::CreateTopics, 1, ct.clone().into()),
            theirs(&ct, 2, 4)
        );
        let dt = delete_topics_response().with_throttle_time_ms(9);
        assert_eq!(
            encode(ApiKey::DeleteTopics, 0, dt.clone().into()),
            theirs(&dt, 1, 4)
        );
    }

    #[test]
    fn group_and_admin_responses_round_trip() {
        for v in 0..=1 {
            let r = offset_commit_response();
            let bytes = encode(ApiKey::OffsetCommit, v, r.clone().into());
            assert_eq!(decode_offset_commit_response(bytes), r, "v{v}");
            let mut r = create_topics_response();
            if v < 1 {
                for t in &mut r.topics {
                    t.error_message = None;
                }
            }
            let bytes = encode(ApiKey::CreateTopics, v, r.clone().into());
            assert_eq!(decode_create_topics_response(v, bytes), r, "v{v}");
        }
        let r = offset_fetch_response();
        let bytes = encode(ApiKey::OffsetFetch, 0, r.clone().into());
        assert_eq!(decode_offset_fetch_response(bytes), r);
        let r = delete_topics_response();
        let bytes = encode(ApiKey::DeleteTopics, 0, r.clone().into());
        assert_eq!(decode_delete_topics_response(bytes), r);
    }

    #[test]
    fn group_and_admin_fields_the_old_versions_lack_are_dropped() {
        let mut oc = offset_commit_response().with_throttle_time_ms(100);
        oc.topics[0].topic_id = uuid::Uuid::from_u128(7);
        for v in 0..=1 {
            assert_eq!(
                encode(ApiKey::OffsetCommit, v, oc.clone().into()),
                encode(ApiKey::OffsetCommit, v, offset_commit_response().into())
            );
        }
        // The top-level error_code (v2+) is not seen by a v0 client.
        let mut of = offset_fetch_response()
            .with_throttle_time_ms(100)
            .with_error_code(16);
        for p in &mut of.topics[0].partitions {
            p.committed_leader_epoch = 3;
        }
        assert_eq!(
            encode(ApiKey::OffsetFetch, 0, of.into()),
            encode(ApiKey::OffsetFetch, 0, offset_fetch_response().into())
        );
        let mut ct = create_topics_response().with_throttle_time_ms(100);
        for t in &mut ct.topics {
            t.topic_id = uuid::Uuid::from_u128(7);
            t.topic_config_error_code = 1;
            t.num_partitions = 3;
            t.replication_factor = 1;
            t.configs = None;
        }
        for v in 0..=1 {
            assert_eq!(
                encode(ApiKey::CreateTopics, v, ct.clone().into()),
                encode(ApiKey::CreateTopics, v, create_topics_response().into())
            );
        }
        // v0 has no error_message.
        let mut no_messages = create_topics_response();
        for t in &mut no_messages.topics {
            t.error_message = Some(sb("something"));
        }
        assert_eq!(
            encode(ApiKey::CreateTopics, 0, no_messages.into()),
            hex(PY_CREATE_TOPICS_RESP_V0)
        );
        let mut dt = delete_topics_response().with_throttle_time_ms(100);
        for t in &mut dt.responses {
            t.topic_id = uuid::Uuid::from_u128(7);
            t.error_message = Some(sb("no"));
        }
        assert_eq!(
            encode(ApiKey::DeleteTopics, 0, dt.into()),
            hex(PY_DELETE_TOPICS_RESP_V0)
        );
    }

    #[test]
    fn what_an_old_response_cannot_say_is_an_error() {
        // OffsetFetch in the v8+ per-group shape.
        let grouped = OffsetFetchResponse::default().with_groups(vec![
            OffsetFetchResponseGroup::default().with_group_id(GroupId(sb("g"))),
        ]);
        // A DeleteTopics result named only by id (v6).
        let mut unnamed = delete_topics_response();
        unnamed.responses[1].name = None;
        // A string longer than an int16 length.
        let mut long = create_topics_response();
        long.topics[1].error_message = Some(StrBytes::from_string("e".repeat(1 << 15)));
        for (key, v, resp, says) in [
            (
                ApiKey::OffsetFetch,
                0,
                ResponseKind::OffsetFetch(grouped),
                "groups",
            ),
            (
                ApiKey::DeleteTopics,
                0,
                ResponseKind::DeleteTopics(unnamed),
                "name",
            ),
            (
                ApiKey::CreateTopics,
                1,
                ResponseKind::CreateTopics(long),
                "too long",
            ),
        ] {
            let mut buf = BytesMut::from(&b"head"[..]);
            let err = encode_response(key, v, &resp, &mut buf).unwrap_err();
            assert!(err.to_string().contains(says), "{key:?}: {err}");
            assert_eq!(&buf[..], b"head", "{key:?}");
        }
    }

    #[test]
    fn carries_exactly_the_versions_kafka_protocol_dropped() {
        // For every API this module knows, it carries each version below the
        // crate's floor and none at or above it.
        for key in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::ListOffsets,
            ApiKey::OffsetCommit,
            ApiKey::OffsetFetch,
            ApiKey::CreateTopics,
            ApiKey::DeleteTopics,
        ] {
            let range = key.valid_versions();
            for v in -1..=range.max + 1 {
                assert_eq!(carries(key, v), (0..range.min).contains(&v), "{key:?} v{v}");
            }
        }
    }
}
