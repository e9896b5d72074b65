//! The admin calls a single broker answers trivially but must answer as Kafka
//! does: ElectLeaders (key 43, v0–v2: the only replica already leads, so
//! ELECTION_NOT_NEEDED), DescribeLogDirs (key 35, v1–v4: the log dir and every
//! partition's size).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{
    DescribeLogDirsRequest, DescribeLogDirsResponse, ElectLeadersRequest, ElectLeadersResponse,
    TopicName,
};

use super::context::{RequestContext, str_bytes};

pub fn elect_leaders(ctx: &RequestContext, req: ElectLeadersRequest) -> ElectLeadersResponse {
    let b = &ctx.broker;
    // For "all partitions" Kafka lists only partitions that needed an election:
    // on a single broker, none.
    let wanted: Vec<(String, Vec<i32>)> = match req.topic_partitions {
        None => Vec::new(),
        Some(tps) => tps
            .into_iter()
            .map(|t| (t.topic.as_str().to_string(), t.partitions))
            .collect(),
    };
    let results = wanted
        .into_iter()
        .map(|(topic, partitions)| {
            let t = b.topic_view(&topic);
            ReplicaElectionResult::default()
                .with_topic(TopicName(str_bytes(topic)))
                .with_partition_result(
                    partitions
                        .into_iter()
                        .map(|p| {
                            let known = t
                                .as_ref()
                                .is_some_and(|t| p >= 0 && (p as usize) < t.partitions.len());
                            let (code, msg) = if known {
                                (
                                    E::ElectionNotNeeded.code(),
                                    "Leader election not needed for topic partition.",
                                )
                            } else {
                                (
                                    E::UnknownTopicOrPartition.code(),
                                    "This server does not host this topic-partition.",
                                )
                            };
                            PartitionResult::default()
                                .with_partition_id(p)
                                .with_error_code(code)
                                .with_error_message(Some(str_bytes(msg)))
                        })
                        .collect(),
                )
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}

pub fn describe_log_dirs(
    ctx: &RequestContext,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let b = &ctx.broker;
    let wanted: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.as_str().to_string(), t.partitions))
            .collect()
    });
    let mut topics = Vec::new();
    for t in b.topics.list() {
        let parts: Vec<i32> = match &wanted {
            None => t.partitions.read().keys().copied().collect(),
            Some(w) => match w.iter().find(|(n, _)| *n == t.name) {
                Some((_, ps)) => ps.clone(),
                None => continue,
            },
        };
        let partitions = parts
            .into_iter()
            .filter_map(|p| {
                let part = t.partition(p)?;
                let size = part.size_bytes() as i64;
                Some(
                    DescribeLogDirsPartition::default()
                        .with_partition_index(p)
                        .with_partition_size(size)
                        .with_offset_lag(0),
                )
            })
            .collect();
        topics.push(
            DescribeLogDirsTopic::default()
                .with_name(TopicName(str_bytes(t.name.clone())))
                .with_partitions(partitions),
        );
    }
    let dir = std::fs::canonicalize(&b.config.log_dir).unwrap_or_else(|_| b.config.log_dir.clone());
    // v4 (KIP-827): the volume's total and usable bytes; -1 if unknown.
    let (total, usable) = match rustix::fs::statvfs(&dir) {
        Ok(v) => (
            (v.f_blocks * v.f_frsize) as i64,
            (v.f_bavail * v.f_frsize) as i64,
        ),
        Err(_) => (-1, -1),
    };
    let mut result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(dir.display().to_string()))
        .with_topics(topics);
    if ctx.version >= 4 {
        result.total_bytes = total;
        result.usable_bytes = usable;
    }
    DescribeLogDirsResponse::default().with_results(vec![result])
}
