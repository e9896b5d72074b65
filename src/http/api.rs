//! The JSON API under `/api/v1/` (docs/observability.md): what the Kafka Admin API offers, for
//! scripts and the web console. Every operation is a kafka-protocol request answered by fjord's
//! own handlers ([`crate::api`]) with a [`RequestContext`] whose principal is the HTTP caller, so
//! authorization, validation and error codes are the Kafka ones. Errors are
//! `{"error": "<KAFKA_ERROR_NAME>", "message": "..."}` with a fitting HTTP status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::ApiError;
use crate::api::{self, ConnectionInfo, RequestContext, str_bytes};
use crate::broker::Broker;

/// The most messages one read returns.
pub const MAX_LIMIT: usize = 500;
/// Messages a read returns when the caller names no limit.
const DEFAULT_LIMIT: usize = 50;
/// Bytes of record batches one read takes from the log at most (over all its fetches).
const MAX_READ_BYTES: usize = 4 << 20;

type Answer = Result<Json<Value>, ApiError>;

fn check(code: i16, message: Option<&StrBytes>) -> Result<(), ApiError> {
    if code == 0 {
        Ok(())
    } else {
        Err(ApiError::kafka(code, message))
    }
}

/// The request context of an HTTP caller: their principal, their address, this version.
fn ctx(broker: &Arc<Broker>, caller: &Caller, version: i16) -> RequestContext {
    RequestContext {
        broker: broker.clone(),
        conn: ConnectionInfo {
            conn_id: 0,
            listener: "HTTP".to_string(),
            protocol: crate::config::SecurityProtocol::Plaintext,
            peer: caller.peer,
            client_software: Arc::new(std::sync::OnceLock::new()),
            principal: caller.principal.clone(),
        },
        version,
        client_id: Some(str_bytes("fjord-http")),
    }
}

/// One request through [`api::call`], its response of the expected kind.
macro_rules! call {
    ($broker:expr, $caller:expr, $version:expr, $kind:ident, $req:expr) => {{
        let c = ctx($broker, $caller, $version);
        match api::call(&c, RequestKind::$kind($req)).await {
            Some(ResponseKind::$kind(r)) => Ok(r),
            _ => Err(ApiError::kafka(E::UnknownServerError.code(), None)),
        }
    }};
}

// After `call!`, which they use.
pub mod acls;
pub mod transactions;

fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return serde_json::from_str("{}").map_err(|e| ApiError::invalid(e.to_string()));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("bad JSON body: {e}")))
}

fn parse_partition(p: &str) -> Result<i32, ApiError> {
    p.parse()
        .map_err(|_| ApiError::invalid(format!("partition {p:?} is not a number")))
}

// ---------------------------------------------------------------------------------------------
// Cluster

pub async fn cluster(State(b): State<Arc<Broker>>, caller: Caller) -> Answer {
    let r = call!(
        &b,
        &caller,
        1,
        DescribeCluster,
        DescribeClusterRequest::default()
    )?;
    check(r.error_code, r.error_message.as_ref())?;
    let brokers: Vec<Value> = r
        .brokers
        .iter()
        .map(|x| {
            json!({"node_id": x.broker_id.0, "host": x.host.as_str(), "port": x.port,
                   "rack": x.rack.as_ref().map(|r| r.as_str()), "fenced": x.is_fenced})
        })
        .collect();
    let m = &b.metrics;
    let all = m.all_topics();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    Ok(Json(json!({
        "node_id": b.node_id,
        "cluster_id": r.cluster_id.as_str(),
        "controller_id": r.controller_id.0,
        "brokers": brokers,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": (now - m.started_unix_seconds()).max(0.0).floor() as u64,
        "bytes_in_total": all.bytes_in.load(Ordering::Relaxed),
        "bytes_out_total": all.bytes_out.load(Ordering::Relaxed),
        "messages_in_total": all.messages_in.load(Ordering::Relaxed),
        "authenticated_as": caller.principal.to_string(),
    })))
}

// ---------------------------------------------------------------------------------------------
// Topics

async fn metadata(
    b: &Arc<Broker>,
    caller: &Caller,
    topics: Option<&[&str]>,
) -> Result<MetadataResponse, ApiError> {
    let mut req = MetadataRequest::default();
    req.topics = topics.map(|ts| {
        ts.iter()
            .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
            .collect()
    });
    req.allow_auto_topic_creation = false;
    call!(b, caller, 12, Metadata, req)
}

/// (log start, high watermark, size in bytes) of a partition held here.
fn local_offsets(b: &Broker, topic: &str, partition: i32) -> Option<(i64, i64, u64)> {
    let p = b.topics.get(topic)?.partition(partition)?;
    let (o, size, _) = p.log_stats();
    Some((o.log_start_offset, o.high_watermark, size))
}

pub async fn list_topics(State(b): State<Arc<Broker>>, caller: Caller) -> Answer {
    let md = metadata(&b, &caller, None).await?;
    let mut out = Vec::new();
    for t in &md.topics {
        let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
            continue;
        };
        if t.error_code != 0 {
            continue;
        }
        let (mut size, mut records) = (0u64, 0i64);
        for p in &t.partitions {
            if let Some((start, end, bytes)) = local_offsets(&b, &name, p.partition_index) {
                size += bytes;
                records += (end - start).max(0);
            }
        }
        out.push(json!({
            "name": name,
            "topic_id": t.topic_id.to_string(),
            "internal": t.is_internal,
            "partitions": t.partitions.len(),
            "replication_factor": t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
            "size_bytes": size,
            "records": records,
        }));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Json(json!({ "topics": out })))
}

pub async fn topic(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let md = metadata(&b, &caller, Some(&[name.as_str()])).await?;
    let Some(t) = md.topics.first() else {
        return Err(ApiError::kafka(E::UnknownTopicOrPartition.code(), None));
    };
    check(t.error_code, None)?;
    let mut partitions = Vec::new();
    for p in &t.partitions {
        let local = local_offsets(&b, &name, p.partition_index);
        partitions.push(json!({
            "partition": p.partition_index,
            "leader": p.leader_id.0,
            "leader_epoch": p.leader_epoch,
            "replicas": p.replica_nodes.iter().map(|r| r.0).collect::<Vec<_>>(),
            "isr": p.isr_nodes.iter().map(|r| r.0).collect::<Vec<_>>(),
            "offline_replicas": p.offline_replicas.iter().map(|r| r.0).collect::<Vec<_>>(),
            "start_offset": local.map(|l| l.0),
            "end_offset": local.map(|l| l.1),
            "size_bytes": local.map(|l| l.2),
        }));
    }
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(str_bytes(&name))
            .with_configuration_keys(None),
    ];
    let dc = call!(&b, &caller, 4, DescribeConfigs, req)?;
    let mut configs = Vec::new();
    if let Some(res) = dc.results.first() {
        check(res.error_code, res.error_message.as_ref())?;
        for c in &res.configs {
            configs.push(json!({
                "name": c.name.as_str(),
                "value": c.value.as_ref().map(|v| v.as_str()),
                "source": config_source(c.config_source),
                "default": c.config_source == 5,
                "read_only": c.read_only,
                "sensitive": c.is_sensitive,
            }));
        }
    }
    Ok(Json(json!({
        "name": name,
        "topic_id": t.topic_id.to_string(),
        "internal": t.is_internal,
        "partitions": partitions,
        "configs": configs,
    })))
}

fn config_source(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    pub name: String,
    /// -1 (or absent): the broker's num.partitions.
    #[serde(default = "minus_one")]
    pub partitions: i32,
    /// -1 (or absent): the broker's default.replication.factor.
    #[serde(default = "minus_one_i16")]
    pub replication_factor: i16,
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

fn minus_one() -> i32 {
    -1
}

fn minus_one_i16() -> i16 {
    -1
}

pub async fn create_topic(State(b): State<Arc<Broker>>, caller: Caller, body: Bytes) -> Answer {
    let t: NewTopic = parse_body(&body)?;
    let mut topic = CreatableTopic::default()
        .with_name(topic_name(&t.name))
        .with_num_partitions(t.partitions)
        .with_replication_factor(t.replication_factor);
    topic.configs = t
        .configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(str_bytes(k))
                .with_value(Some(str_bytes(v)))
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![topic];
    req.timeout_ms = 30_000;
    let r = call!(&b, &caller, 7, CreateTopics, req)?;
    let Some(res) = r.topics.first() else {
        return Err(ApiError::kafka(E::UnknownServerError.code(), None));
    };
    check(res.error_code, res.error_message.as_ref())?;
    Ok(Json(json!({
        "name": t.name,
        "topic_id": res.topic_id.to_string(),
        "partitions": res.num_partitions,
        "replication_factor": res.replication_factor,
    })))
}

pub async fn delete_topic(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Answer {
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![topic_name(&name)];
    req.timeout_ms = 30_000;
    let r = call!(&b, &caller, 5, DeleteTopics, req)?;
    let Some(res) = r.responses.first() else {
        return Err(ApiError::kafka(E::UnknownServerError.code(), None));
    };
    check(res.error_code, res.error_message.as_ref())?;
    Ok(Json(json!({ "deleted": name })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionCount {
    count: i32,
}

pub async fn add_partitions(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let n: PartitionCount = parse_body(&body)?;
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![
        CreatePartitionsTopic::default()
            .with_name(topic_name(&name))
            .with_count(n.count),
    ];
    req.timeout_ms = 30_000;
    let r = call!(&b, &caller, 3, CreatePartitions, req)?;
    let Some(res) = r.results.first() else {
        return Err(ApiError::kafka(E::UnknownServerError.code(), None));
    };
    check(res.error_code, res.error_message.as_ref())?;
    Ok(Json(json!({ "name": name, "partitions": n.count })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigChanges {
    /// name -> new value, or null to remove the override (back to the default).
    configs: BTreeMap<String, Option<String>>,
}

pub async fn alter_configs(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let c: ConfigChanges = parse_body(&body)?;
    if c.configs.is_empty() {
        return Err(ApiError::invalid("no configs to change"));
    }
    let mut res = AlterConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(str_bytes(&name));
    res.configs = c
        .configs
        .iter()
        .map(|(k, v)| {
            AlterableConfig::default()
                .with_name(str_bytes(k))
                // 0: SET, 1: DELETE
                .with_config_operation(if v.is_some() { 0 } else { 1 })
                .with_value(v.as_ref().map(str_bytes))
        })
        .collect();
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![res];
    let r = call!(&b, &caller, 1, IncrementalAlterConfigs, req)?;
    let Some(res) = r.responses.first() else {
        return Err(ApiError::kafka(E::UnknownServerError.code(), None));
    };
    check(res.error_code, res.error_message.as_ref())?;
    Ok(Json(json!({ "name": name, "altered": c.configs })))
}

// ---------------------------------------------------------------------------------------------
// Offsets

/// ListOffsets for one partition at `timestamp` (-2 earliest, -1 latest): (offset, timestamp).
async fn list_offset(
    b: &Arc<Broker>,
    caller: &Caller,
    topic: &str,
    partition: i32,
    timestamp: i64,
) -> Result<(i64, i64), ApiError> {
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![
        ListOffsetsTopic::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![
                ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(timestamp),
            ]),
    ];
    let r = call!(b, caller, 7, ListOffsets, req)?;
    let p = r
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    if p.error_code == E::NotLeaderOrFollower.code() {
        return Err(led_elsewhere(b, caller, topic, partition).await);
    }
    check(p.error_code, None)?;
    Ok((p.offset, p.timestamp))
}

// ---------------------------------------------------------------------------------------------
// Messages

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    pub offset: Option<i64>,
    pub from: Option<String>,
    pub timestamp: Option<i64>,
    pub limit: Option<usize>,
}

/// Where a read starts, as asked.
#[derive(Debug, PartialEq)]
pub enum Start {
    Offset(i64),
    Beginning,
    /// The last `limit` messages.
    End,
    Timestamp(i64),
}

/// Check a message read's query: one starting point, a limit within [`MAX_LIMIT`].
pub fn parse_messages_query(q: &MessagesQuery) -> Result<(Start, usize), ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 {
        return Err(ApiError::invalid("limit must be at least 1"));
    }
    if limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "limit {limit} is more than one read returns ({MAX_LIMIT}); read in pages: the answer's next_offset is where the next page starts"
        )));
    }
    let given = [q.offset.is_some(), q.from.is_some(), q.timestamp.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ApiError::invalid(
            "give one of offset, from (beginning or end) and timestamp",
        ));
    }
    let start = match (&q.offset, q.from.as_deref(), q.timestamp) {
        (Some(o), _, _) => Start::Offset(*o),
        (_, Some("beginning"), _) => Start::Beginning,
        (_, Some("end"), _) => Start::End,
        (_, Some(other), _) => {
            return Err(ApiError::invalid(format!(
                "from={other:?}: beginning or end"
            )));
        }
        (_, _, Some(ts)) if ts < 0 => {
            return Err(ApiError::invalid(
                "timestamp is milliseconds since the Unix epoch (0 or more)",
            ));
        }
        (_, _, Some(ts)) => Start::Timestamp(ts),
        _ => Start::Beginning,
    };
    Ok((start, limit))
}

/// A key, value or header value as JSON: UTF-8 text, else base64, and which it is.
fn bytes_json(b: &Option<bytes::Bytes>) -> (Value, &'static str) {
    match b {
        None => (Value::Null, "null"),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (Value::String(s.to_string()), "utf8"),
            Err(_) => (Value::String(B64.encode(b)), "base64"),
        },
    }
}

fn record_json(r: &Record) -> Value {
    let (key, key_encoding) = bytes_json(&r.key);
    let (value, value_encoding) = bytes_json(&r.value);
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|(k, v)| {
            let (value, encoding) = bytes_json(v);
            json!({"key": k.as_str(), "value": value, "value_encoding": encoding})
        })
        .collect();
    json!({
        "offset": r.offset,
        "timestamp": r.timestamp,
        "timestamp_type": if r.timestamp_type == TimestampType::LogAppend { "LOG_APPEND_TIME" } else { "CREATE_TIME" },
        "key": key,
        "key_encoding": key_encoding,
        "value": value,
        "value_encoding": value_encoding,
        "headers": headers,
    })
}

/// The records of whole v2 batches in `data` (a fetch may end in a partial batch: left out),
/// decompressed with fjord's bounded inflater.
pub fn decode_batches(mut data: bytes::Bytes, inflate_limit: usize) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    while data.len() >= 12 {
        let len = i32::from_be_bytes([data[8], data[9], data[10], data[11]]);
        let Ok(len) = usize::try_from(len) else {
            return Err(format!("batch length {len}"));
        };
        if data.len() < 12 + len {
            break;
        }
        let mut batch = data.split_to(12 + len);
        let inflate = |b: &mut bytes::Bytes, c: Compression| -> anyhow::Result<bytes::Bytes> {
            let codec = match c {
                Compression::None => 0,
                Compression::Gzip => 1,
                Compression::Snappy => 2,
                Compression::Lz4 => 3,
                Compression::Zstd => 4,
            };
            crate::log::compression::inflate(codec, b, inflate_limit)
                .map(bytes::Bytes::from)
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        let set = RecordBatchDecoder::decode_with_custom_compression(&mut batch, Some(inflate))
            .map_err(|e| e.to_string())?;
        out.extend(set.records);
    }
    Ok(out)
}

/// One fetch of a partition from `offset`: its records' bytes, high watermark and log start.
async fn fetch_once(
    b: &Arc<Broker>,
    caller: &Caller,
    topic: &str,
    partition: i32,
    offset: i64,
    max_bytes: i32,
) -> Result<(bytes::Bytes, i64, i64), ApiError> {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 0;
    req.min_bytes = 0;
    req.max_bytes = max_bytes;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    req.topics = vec![
        FetchTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(vec![
                FetchPartition::default()
                    .with_partition(partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(max_bytes),
            ]),
    ];
    let c = ctx(b, caller, 12);
    let reply = api::fetch::handle(&c, req).await;
    let p = reply
        .response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    if p.error_code == E::OffsetOutOfRange.code() {
        let start = list_offset(b, caller, topic, partition, -2).await?.0;
        let end = list_offset(b, caller, topic, partition, -1).await?.0;
        return Err(ApiError::kafka(
            p.error_code,
            Some(&str_bytes(format!(
                "offset {offset} is out of range for partition {topic}-{partition}: it holds offsets {start} to {end}"
            ))),
        ));
    }
    if p.error_code == E::NotLeaderOrFollower.code() {
        return Err(led_elsewhere(b, caller, topic, partition).await);
    }
    check(p.error_code, None)?;
    let mut data = Vec::new();
    if let Some(r) = &p.records {
        data.extend_from_slice(r);
    }
    for slice in reply.records.iter().flatten().flatten() {
        let bytes = slice.read().map_err(|e| {
            ApiError::kafka(
                E::KafkaStorageError.code(),
                Some(&str_bytes(format!("cannot read the log: {e}"))),
            )
        })?;
        data.extend_from_slice(&bytes);
    }
    Ok((data.into(), p.high_watermark, p.log_start_offset))
}

pub async fn messages(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path((topic, partition)): Path<(String, String)>,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer {
    let Query(q) = query.map_err(|e| ApiError::invalid(e.body_text()))?;
    let partition = parse_partition(&partition)?;
    let (start, limit) = parse_messages_query(&q)?;
    let mut offset = match start {
        Start::Offset(o) => o,
        Start::Beginning => list_offset(&b, &caller, &topic, partition, -2).await?.0,
        Start::End => {
            let end = list_offset(&b, &caller, &topic, partition, -1).await?.0;
            let begin = list_offset(&b, &caller, &topic, partition, -2).await?.0;
            (end - limit as i64).max(begin)
        }
        Start::Timestamp(ts) => match list_offset(&b, &caller, &topic, partition, ts).await? {
            (-1, _) => list_offset(&b, &caller, &topic, partition, -1).await?.0,
            (o, _) => o,
        },
    };
    let inflate_limit = b.config.socket_request_max_bytes.max(1 << 20) as usize;
    let mut out = Vec::new();
    let mut read = 0usize;
    let (mut high_watermark, mut log_start);
    loop {
        let want = ((MAX_READ_BYTES - read).min(1 << 20)) as i32;
        let (data, hw, ls) = fetch_once(&b, &caller, &topic, partition, offset, want).await?;
        (high_watermark, log_start) = (hw, ls);
        read += data.len();
        let records = decode_batches(data, inflate_limit)
            .map_err(|e| ApiError::kafka(E::CorruptMessage.code(), Some(&str_bytes(e))))?;
        // Fetch answers whole batches: skip what lies before `offset`, and step over control
        // records (transaction markers), which are not messages.
        let mut progressed = false;
        for r in records {
            if r.offset < offset || out.len() >= limit {
                continue;
            }
            if !r.control {
                out.push(record_json(&r));
            }
            offset = r.offset + 1;
            progressed = true;
        }
        if out.len() >= limit || !progressed || offset >= hw || read >= MAX_READ_BYTES {
            break;
        }
    }
    Ok(Json(json!({
        "topic": topic,
        "partition": partition,
        "start_offset": log_start,
        "end_offset": high_watermark,
        "next_offset": offset,
        "limit": limit,
        "messages": out,
    })))
}

/// NOT_LEADER_OR_FOLLOWER, saying which node leads the partition: in a cluster a partition's
/// messages are read and written on its leader.
async fn led_elsewhere(b: &Arc<Broker>, caller: &Caller, topic: &str, partition: i32) -> ApiError {
    let leader = metadata(b, caller, Some(&[topic]))
        .await
        .ok()
        .and_then(|md| {
            md.topics.first().and_then(|t| {
                t.partitions
                    .iter()
                    .find(|p| p.partition_index == partition)
                    .map(|p| p.leader_id.0)
            })
        });
    let here = b.node_id;
    let message = match leader {
        Some(l) if l >= 0 => format!(
            "node {here} does not lead partition {topic}-{partition}: node {l} does; use its HTTP listener"
        ),
        _ => format!("partition {topic}-{partition} has no leader at the moment"),
    };
    ApiError::kafka(E::NotLeaderOrFollower.code(), Some(&str_bytes(message)))
}

// ---------------------------------------------------------------------------------------------
// Produce

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    pub partition: Option<i32>,
    pub key: Option<String>,
    pub value: Option<String>,
    #[serde(default)]
    pub headers: Vec<NewHeader>,
    /// "utf8" (default) or "base64": how key, value and header values are written.
    pub encoding: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NewHeader {
    pub key: String,
    pub value: Option<String>,
}

fn decode_text(
    s: &Option<String>,
    base64: bool,
    what: &str,
) -> Result<Option<bytes::Bytes>, ApiError> {
    match s {
        None => Ok(None),
        Some(s) if base64 => B64
            .decode(s)
            .map(|v| Some(v.into()))
            .map_err(|e| ApiError::invalid(format!("{what} is not base64: {e}"))),
        Some(s) => Ok(Some(bytes::Bytes::copy_from_slice(s.as_bytes()))),
    }
}

/// Kafka's default partitioner for a keyed record: murmur2 of the key, positive, modulo.
pub fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    let seed: u32 = 0x9747_b28c;
    let m: u32 = 0x5bd1_e995;
    let len = key.len();
    let mut h: u32 = seed ^ (len as u32);
    let chunks = key.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(m);
        k ^= k >> 24;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    match tail.len() {
        3 => {
            h ^= (tail[2] as u32) << 16;
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        2 => {
            h ^= (tail[1] as u32) << 8;
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        1 => {
            h ^= tail[0] as u32;
            h = h.wrapping_mul(m);
        }
        _ => {}
    }
    h ^= h >> 13;
    h = h.wrapping_mul(m);
    h ^= h >> 15;
    ((h & 0x7fff_ffff) % partitions.max(1) as u32) as i32
}

static ROUND_ROBIN: AtomicUsize = AtomicUsize::new(0);

pub async fn produce(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(topic): Path<String>,
    body: Bytes,
) -> Answer {
    let m: NewMessage = parse_body(&body)?;
    let base64 = match m.encoding.as_deref() {
        None | Some("utf8") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "encoding {other:?}: utf8 or base64"
            )));
        }
    };
    let key = decode_text(&m.key, base64, "key")?;
    let value = decode_text(&m.value, base64, "value")?;
    let mut headers = indexmap_headers();
    for h in &m.headers {
        headers.insert(
            str_bytes(&h.key),
            decode_text(&h.value, base64, "a header value")?,
        );
    }
    let partition = match m.partition {
        Some(p) => p,
        None => {
            let md = metadata(&b, &caller, Some(&[topic.as_str()])).await?;
            let t = md
                .topics
                .first()
                .ok_or_else(|| ApiError::kafka(E::UnknownTopicOrPartition.code(), None))?;
            check(t.error_code, None)?;
            let n = t.partitions.len() as i32;
            match &key {
                Some(k) => murmur2_partition(k, n),
                None => (ROUND_ROBIN.fetch_add(1, Ordering::Relaxed) % n.max(1) as usize) as i32,
            }
        }
    };
    let now = b.now_ms();
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now,
        key,
        value,
        headers,
    };
    let mut batch = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| ApiError::invalid(format!("cannot encode the record: {e}")))?;
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data = vec![
        TopicProduceData::default()
            .with_name(topic_name(&topic))
            .with_partition_data(vec![
                PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch.freeze())),
            ]),
    ];
    let r = call!(&b, &caller, 9, Produce, req)?;
    let p = r
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    if p.error_code == E::NotLeaderOrFollower.code() {
        return Err(led_elsewhere(&b, &caller, &topic, partition).await);
    }
    check(p.error_code, p.error_message.as_ref())?;
    Ok(Json(json!({
        "topic": topic,
        "partition": partition,
        "offset": p.base_offset,
        "timestamp": if p.log_append_time_ms >= 0 { p.log_append_time_ms } else { now },
    })))
}

fn indexmap_headers() -> kafka_protocol::indexmap::IndexMap<StrBytes, Option<bytes::Bytes>> {
    Default::default()
}

// ---------------------------------------------------------------------------------------------
// Groups

pub async fn list_groups(State(b): State<Arc<Broker>>, caller: Caller) -> Answer {
    let r = call!(&b, &caller, 5, ListGroups, ListGroupsRequest::default())?;
    check(r.error_code, None)?;
    let mut groups: Vec<Value> = r
        .groups
        .iter()
        .map(|g| {
            json!({"group_id": g.group_id.0.as_str(), "state": g.group_state.as_str(),
                   "protocol_type": g.protocol_type.as_str(), "type": g.group_type.as_str()})
        })
        .collect();
    groups.sort_by(|a, b| a["group_id"].as_str().cmp(&b["group_id"].as_str()));
    Ok(Json(json!({ "groups": groups })))
}

async fn describe_group(
    b: &Arc<Broker>,
    caller: &Caller,
    group: &str,
) -> Result<DescribedGroup, ApiError> {
    let mut req = DescribeGroupsRequest::default();
    req.groups = vec![GroupId(str_bytes(group))];
    let r = call!(b, caller, 5, DescribeGroups, req)?;
    let g = r
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    check(g.error_code, g.error_message.as_ref())?;
    Ok(g)
}

/// A group as the console shows it, whichever protocol it speaks: state, protocol type, assignor
/// and members (each with its assigned partitions). A classic group comes from DescribeGroups, a
/// KIP-848 consumer group (which DescribeGroups knows nothing of) from ConsumerGroupDescribe.
struct GroupSummary {
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Value>,
}

async fn group_summary(
    b: &Arc<Broker>,
    caller: &Caller,
    group: &str,
) -> Result<GroupSummary, ApiError> {
    let g = describe_group(b, caller, group).await?;
    if g.group_state.as_str() == "Dead" && g.members.is_empty() {
        let mut req = ConsumerGroupDescribeRequest::default();
        req.group_ids = vec![GroupId(str_bytes(group))];
        let r = call!(b, caller, 1, ConsumerGroupDescribe, req)?;
        if let Some(cg) = r.groups.first().filter(|cg| cg.error_code == 0) {
            let members = cg
                .members
                .iter()
                .map(|m| {
                    let assignment: Vec<Value> = m
                        .assignment
                        .topic_partitions
                        .iter()
                        .map(|tp| json!({"topic": tp.topic_name.0.as_str(), "partitions": tp.partitions}))
                        .collect();
                    json!({
                        "member_id": m.member_id.as_str(),
                        "group_instance_id": m.instance_id.as_ref().map(|s| s.as_str()),
                        "client_id": m.client_id.as_str(),
                        "client_host": m.client_host.as_str(),
                        "assignment": assignment,
                    })
                })
                .collect();
            return Ok(GroupSummary {
                state: cg.group_state.to_string(),
                protocol_type: "consumer".to_string(),
                protocol: cg.assignor_name.to_string(),
                members,
            });
        }
    }
    let members = g
        .members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id.as_str(),
                "group_instance_id": m.group_instance_id.as_ref().map(|s| s.as_str()),
                "client_id": m.client_id.as_str(),
                "client_host": m.client_host.as_str(),
                "assignment": assignment(g.protocol_type.as_str(), &m.member_assignment),
            })
        })
        .collect();
    Ok(GroupSummary {
        state: g.group_state.to_string(),
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        members,
    })
}

/// Committed offsets of a group: topic -> partition -> offset.
async fn committed(
    b: &Arc<Broker>,
    caller: &Caller,
    group: &str,
) -> Result<BTreeMap<String, BTreeMap<i32, i64>>, ApiError> {
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(str_bytes(group));
    req.topics = None;
    let r = call!(b, caller, 7, OffsetFetch, req)?;
    check(r.error_code, None)?;
    let mut out: BTreeMap<String, BTreeMap<i32, i64>> = BTreeMap::new();
    for t in &r.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.entry(t.name.0.to_string())
                    .or_default()
                    .insert(p.partition_index, p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// The partitions a classic consumer member is assigned (ConsumerProtocolAssignment).
fn assignment(protocol_type: &str, bytes: &bytes::Bytes) -> Vec<Value> {
    use bytes::Buf;
    use kafka_protocol::protocol::Decodable;
    if protocol_type != "consumer" || bytes.len() < 2 {
        return Vec::new();
    }
    let mut buf = bytes.clone();
    let version = buf.get_i16();
    match ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) {
        Ok(a) => a
            .assigned_partitions
            .iter()
            .map(|tp| json!({"topic": tp.topic.0.as_str(), "partitions": tp.partitions}))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub async fn group(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(group): Path<String>,
) -> Answer {
    let g = group_summary(&b, &caller, &group).await?;
    let offsets = committed(&b, &caller, &group).await?;
    if g.state == "Dead" && offsets.is_empty() {
        return Err(ApiError::kafka(
            E::GroupIdNotFound.code(),
            Some(&str_bytes(format!("Group {group} not found."))),
        ));
    }
    let mut partitions = Vec::new();
    let (mut total_lag, mut lag_known) = (0i64, true);
    for (topic, ps) in &offsets {
        for (p, committed) in ps {
            let end = local_offsets(&b, topic, *p).map(|l| l.1);
            let lag = end.map(|e| (e - committed).max(0));
            match lag {
                Some(l) => total_lag += l,
                None => lag_known = false,
            }
            partitions.push(json!({
                "topic": topic, "partition": p, "committed_offset": committed,
                "end_offset": end, "lag": lag,
            }));
        }
    }
    Ok(Json(json!({
        "group_id": group,
        "state": g.state,
        "protocol_type": g.protocol_type,
        "protocol": g.protocol,
        "members": g.members,
        "offsets": partitions,
        "total_lag": lag_known.then_some(total_lag),
    })))
}

pub async fn delete_group(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(group): Path<String>,
) -> Answer {
    let mut req = DeleteGroupsRequest::default();
    req.groups_names = vec![GroupId(str_bytes(&group))];
    let r = call!(&b, &caller, 2, DeleteGroups, req)?;
    let res = r
        .results
        .first()
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    check(res.error_code, None)?;
    Ok(Json(json!({ "deleted": group })))
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ResetOffsets {
    /// earliest, latest, timestamp or offset.
    pub to: String,
    pub timestamp: Option<i64>,
    pub offset: Option<i64>,
    /// Only this topic's partitions (all of them); absent: every partition the group committed.
    pub topic: Option<String>,
}

/// The ListOffsets timestamp a reset asks for, or the explicit offset.
#[derive(Debug, PartialEq)]
pub enum ResetTo {
    Timestamp(i64),
    Offset(i64),
}

pub fn parse_reset(r: &ResetOffsets) -> Result<ResetTo, ApiError> {
    match (r.to.as_str(), r.timestamp, r.offset) {
        ("earliest", None, None) => Ok(ResetTo::Timestamp(-2)),
        ("latest", None, None) => Ok(ResetTo::Timestamp(-1)),
        ("timestamp", Some(ts), None) if ts >= 0 => Ok(ResetTo::Timestamp(ts)),
        ("timestamp", _, None) => Err(ApiError::invalid(
            "to=timestamp needs timestamp: milliseconds since the Unix epoch (0 or more)",
        )),
        ("offset", None, Some(o)) if o >= 0 => Ok(ResetTo::Offset(o)),
        ("offset", None, _) => Err(ApiError::invalid("to=offset needs offset: 0 or more")),
        ("earliest" | "latest" | "timestamp" | "offset", _, _) => Err(ApiError::invalid(format!(
            "to={} takes {}",
            r.to,
            match r.to.as_str() {
                "timestamp" => "timestamp only",
                "offset" => "offset only",
                _ => "neither timestamp nor offset",
            }
        ))),
        (other, _, _) => Err(ApiError::invalid(format!(
            "to={other:?}: earliest, latest, timestamp or offset"
        ))),
    }
}

pub async fn reset_offsets(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    Path(group): Path<String>,
    body: Bytes,
) -> Answer {
    let r: ResetOffsets = parse_body(&body)?;
    let to = parse_reset(&r)?;
    let g = group_summary(&b, &caller, &group).await?;
    let state = g.state.as_str();
    if state != "Empty" && state != "Dead" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "NON_EMPTY_GROUP",
            format!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}."
            ),
        ));
    }
    // The partitions to reset: a named topic's, or every one the group committed.
    let mut targets: Vec<(String, i32)> = Vec::new();
    match &r.topic {
        Some(t) => {
            let md = metadata(&b, &caller, Some(&[t.as_str()])).await?;
            let mt = md
                .topics
                .first()
                .ok_or_else(|| ApiError::kafka(E::UnknownTopicOrPartition.code(), None))?;
            check(mt.error_code, None)?;
            targets.extend(mt.partitions.iter().map(|p| (t.clone(), p.partition_index)));
        }
        None => {
            for (t, ps) in committed(&b, &caller, &group).await? {
                targets.extend(ps.keys().map(|p| (t.clone(), *p)));
            }
        }
    }
    if targets.is_empty() {
        return Err(ApiError::invalid(format!(
            "group {group} has no committed offsets to reset; name a topic"
        )));
    }
    let mut new_offsets: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
    for (t, p) in &targets {
        let o = match to {
            ResetTo::Timestamp(ts) => match list_offset(&b, &caller, t, *p, ts).await?.0 {
                // No record at or after the timestamp: the end, as kafka-consumer-groups.sh does.
                -1 => list_offset(&b, &caller, t, *p, -1).await?.0,
                o => o,
            },
            // Clamped into the log, as kafka-consumer-groups.sh does.
            ResetTo::Offset(o) => {
                let start = list_offset(&b, &caller, t, *p, -2).await?.0;
                let end = list_offset(&b, &caller, t, *p, -1).await?.0;
                o.clamp(start, end)
            }
        };
        new_offsets.entry(t.clone()).or_default().push((*p, o));
    }
    let mut req = OffsetCommitRequest::default();
    req.group_id = GroupId(str_bytes(&group));
    req.generation_id_or_member_epoch = -1;
    req.member_id = str_bytes("");
    req.topics = new_offsets
        .iter()
        .map(|(t, ps)| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(t))
                .with_partitions(
                    ps.iter()
                        .map(|(p, o)| {
                            OffsetCommitRequestPartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(*o)
                                .with_committed_leader_epoch(-1)
                        })
                        .collect(),
                )
        })
        .collect();
    let resp = call!(&b, &caller, 8, OffsetCommit, req)?;
    for t in &resp.topics {
        for p in &t.partitions {
            check(p.error_code, None)?;
        }
    }
    let offsets: Vec<Value> = new_offsets
        .iter()
        .flat_map(|(t, ps)| {
            ps.iter()
                .map(move |(p, o)| json!({"topic": t, "partition": p, "offset": o}))
        })
        .collect();
    Ok(Json(json!({ "group_id": group, "offsets": offsets })))
}

/// Anything under /api/ that is no operation.
pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such operation (docs/observability.md lists the JSON API)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(
        offset: Option<i64>,
        from: Option<&str>,
        ts: Option<i64>,
        limit: Option<usize>,
    ) -> MessagesQuery {
        MessagesQuery {
            offset,
            from: from.map(str::to_string),
            timestamp: ts,
            limit,
        }
    }

    #[test]
    fn messages_query() {
        assert_eq!(
            parse_messages_query(&q(None, None, None, None)).unwrap(),
            (Start::Beginning, 50)
        );
        assert_eq!(
            parse_messages_query(&q(Some(7), None, None, Some(3))).unwrap(),
            (Start::Offset(7), 3)
        );
        assert_eq!(
            parse_messages_query(&q(None, Some("end"), None, Some(500))).unwrap(),
            (Start::End, 500)
        );
        assert_eq!(
            parse_messages_query(&q(None, None, Some(1000), None)).unwrap(),
            (Start::Timestamp(1000), 50)
        );
        let e = parse_messages_query(&q(None, None, None, Some(501))).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("500"), "{}", e.message);
        assert!(parse_messages_query(&q(None, None, None, Some(0))).is_err());
        assert!(parse_messages_query(&q(Some(1), Some("end"), None, None)).is_err());
        assert!(parse_messages_query(&q(None, Some("middle"), None, None)).is_err());
        assert!(parse_messages_query(&q(None, None, Some(-5), None)).is_err());
    }

    #[test]
    fn reset_targets() {
        let r = |to: &str, ts: Option<i64>, o: Option<i64>| ResetOffsets {
            to: to.to_string(),
            timestamp: ts,
            offset: o,
            topic: None,
        };
        assert_eq!(
            parse_reset(&r("earliest", None, None)).unwrap(),
            ResetTo::Timestamp(-2)
        );
        assert_eq!(
            parse_reset(&r("latest", None, None)).unwrap(),
            ResetTo::Timestamp(-1)
        );
        assert_eq!(
            parse_reset(&r("timestamp", Some(5), None)).unwrap(),
            ResetTo::Timestamp(5)
        );
        assert_eq!(
            parse_reset(&r("offset", None, Some(3))).unwrap(),
            ResetTo::Offset(3)
        );
        assert!(parse_reset(&r("timestamp", None, None)).is_err());
        assert!(parse_reset(&r("offset", None, Some(-1))).is_err());
        assert!(parse_reset(&r("earliest", Some(1), None)).is_err());
        assert!(parse_reset(&r("sideways", None, None)).is_err());
    }

    #[test]
    fn murmur2_matches_kafka() {
        // Kafka's Utils.murmur2 test vectors, made positive and taken modulo a partition count
        // the way the default partitioner does.
        let cases: [(&[u8], i32); 3] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
        ];
        for (key, want) in cases {
            let p = murmur2_partition(key, i32::MAX);
            assert_eq!(
                p,
                (want & 0x7fff_ffff) % i32::MAX,
                "{:?}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn batches_round_trip_and_partial_tail() {
        let mut headers = indexmap_headers();
        headers.insert(str_bytes("h"), Some(bytes::Bytes::from_static(b"\xff\x00")));
        let rec = |offset: i64| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp: 1_700_000_000_000,
            key: Some(bytes::Bytes::from_static(b"k")),
            value: Some(bytes::Bytes::from_static(b"{\"a\":1}")),
            headers: headers.clone(),
        };
        let encode = |c: Compression| {
            let mut buf = bytes::BytesMut::new();
            RecordBatchEncoder::encode(
                &mut buf,
                [&rec(0), &rec(1)],
                &RecordEncodeOptions {
                    version: 2,
                    compression: c,
                },
            )
            .unwrap();
            buf.freeze()
        };
        let (first, second) = (encode(Compression::None), encode(Compression::Gzip));
        let whole = bytes::Bytes::from([first.as_ref(), second.as_ref()].concat());
        let got = decode_batches(whole.clone(), 1 << 20).unwrap();
        assert_eq!(got.len(), 4);
        let j = record_json(&got[3]);
        assert_eq!(j["value"], "{\"a\":1}");
        assert_eq!(j["headers"][0]["value_encoding"], "base64");
        assert_eq!(j["headers"][0]["value"], "/wA=");
        // A fetch that ends inside the last batch: the whole batches before it only.
        let cut = whole.slice(..whole.len() - 5);
        assert_eq!(decode_batches(cut, 1 << 20).unwrap().len(), 3);
        // A batch that inflates past the limit is refused, not decoded.
        assert!(decode_batches(second, 10).is_err());
        // Garbage never panics.
        let _ = decode_batches(bytes::Bytes::from_static(&[0xff; 40]), 1 << 20);
        let _ = decode_batches(
            bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff]),
            1 << 20,
        );
    }
}
