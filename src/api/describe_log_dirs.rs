//! DescribeLogDirs (key 35), v1–v4 (Kafka 4 removed v0): `kafka-log-dirs.sh --describe`,
//! `Admin.describeLogDirs` and `Admin.describeReplicaLogDirs`, sent to each broker in turn.
//! This broker has one log dir (`log.dirs`): the answer is that dir with the replicas kept
//! there that the request names (null: all), leaders and followers alike, each with its size
//! on disk, offset lag 0 (Kafka reports max(0, high watermark − log end) of the replica's own
//! log, which is never positive for a current replica) and is_future_key false (no replica is
//! ever moved between dirs). Topics with no listed partition are left out, as Kafka 4 does.
//! v3 adds the top-level error code, v4 the volume's total and usable bytes (KIP-827).

use std::collections::{HashMap, HashSet};

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let b = &ctx.broker;
    // Describe on the cluster, else nothing (v3+ says why), as Kafka.
    if !ctx.authorize_cluster(AclOperation::Describe) {
        let resp = DescribeLogDirsResponse::default();
        return if ctx.version >= 3 {
            resp.with_error_code(kafka_protocol::ResponseError::ClusterAuthorizationFailed.code())
        } else {
            resp
        };
    }
    let named: Option<HashMap<String, HashSet<i32>>> = req.topics.map(|ts| {
        let mut named: HashMap<String, HashSet<i32>> = HashMap::new();
        for t in ts {
            named
                .entry(t.topic.to_string())
                .or_default()
                .extend(t.partitions);
        }
        named
    });
    let wanted = |topic: &str, p: i32| {
        named
            .as_ref()
            .is_none_or(|n| n.get(topic).is_some_and(|ps| ps.contains(&p)))
    };
    let topics = b
        .hosted_replicas(wanted)
        .into_iter()
        .map(|(name, parts)| {
            DescribeLogDirsTopic::default()
                .with_name(TopicName(str_bytes(name)))
                .with_partitions(
                    parts
                        .into_iter()
                        .map(|(p, size)| {
                            DescribeLogDirsPartition::default()
                                .with_partition_index(p)
                                .with_partition_size(i64::try_from(size).unwrap_or(i64::MAX))
                                .with_offset_lag(0)
                                .with_is_future_key(false)
                        })
                        .collect(),
                )
        })
        .collect();
    let usage = b.log_dir_usage();
    let mut dir = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(usage.path.display().to_string()))
        .with_topics(topics);
    if ctx.version >= 4 {
        // Java's FileStore reports a size past i64::MAX as negative; Kafka answers i64::MAX.
        let bytes = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        dir.total_bytes = bytes(usage.total_bytes);
        dir.usable_bytes = bytes(usage.usable_bytes);
    }
    DescribeLogDirsResponse::default().with_results(vec![dir])
}
