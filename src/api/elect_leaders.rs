//! ElectLeaders (key 43), v0–v2: `kafka-leader-election.sh` and `Admin.electLeaders`. v0 elects
//! preferred leaders, v1 adds the election type (0 preferred, 1 unclean) and a top-level error
//! code, v2 is flexible. Any broker answers; in a cluster the active controller elects
//! ([`crate::broker::Broker::elect_leaders`]).
//!
//! Per partition, Kafka's outcomes: no error (elected, from the next leader epoch),
//! ELECTION_NOT_NEEDED (preferred: its first replica leads already; unclean: it has a leader),
//! PREFERRED_LEADER_NOT_AVAILABLE (the first replica is not live and in sync),
//! ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean: no replica is live), UNKNOWN_TOPIC_OR_PARTITION.
//! With no partitions named (null) every partition is tried, and the answer lists every topic
//! with only the partitions whose election was needed. A request failing as a whole (an
//! unknown election type: INVALID_REQUEST; no controller in time: REQUEST_TIMED_OUT) carries
//! its error at the top (v1+) and on every partition named, as Kafka's error response does.

use std::time::Duration;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};

use super::context::{RequestContext, str_bytes};
use crate::broker::admin::TopicElections;
use crate::cluster::controller::ApiError;
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: ElectLeadersRequest) -> ElectLeadersResponse {
    // v0 has no election type: it elects preferred leaders.
    let election_type = if ctx.version >= 1 {
        req.election_type
    } else {
        0
    };
    let named: Option<Vec<(String, Vec<i32>)>> = req.topic_partitions.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.to_string(), t.partitions))
            .collect()
    });
    let timeout = Duration::from_millis(req.timeout_ms.max(0) as u64);
    // Alter on the cluster, else the request fails as a whole.
    let outcome = if ctx.authorize_cluster(AclOperation::Alter) {
        ctx.broker
            .elect_leaders(election_type, named.clone(), timeout)
            .await
    } else {
        Err(ApiError::new(
            kafka_protocol::ResponseError::ClusterAuthorizationFailed,
            "Cluster authorization failed.",
        ))
    };
    match outcome {
        Ok(topics) => response(topics),
        Err(e) => {
            let failed = named
                .unwrap_or_default()
                .into_iter()
                .map(|(name, parts)| {
                    (
                        name,
                        parts.into_iter().map(|p| (p, Err(e.clone()))).collect(),
                    )
                })
                .collect();
            let mut resp = response(failed);
            if ctx.version >= 1 {
                resp.error_code = e.code;
            }
            resp
        }
    }
}

fn response(topics: Vec<TopicElections>) -> ElectLeadersResponse {
    let results = topics
        .into_iter()
        .map(|(name, parts)| {
            ReplicaElectionResult::default()
                .with_topic(TopicName(str_bytes(name)))
                .with_partition_result(
                    parts
                        .into_iter()
                        .map(|(p, result)| {
                            let (code, message) = match result {
                                Ok(()) => (0, None),
                                Err(e) => (e.code, Some(str_bytes(e.message))),
                            };
                            PartitionResult::default()
                                .with_partition_id(p)
                                .with_error_code(code)
                                .with_error_message(message)
                        })
                        .collect(),
                )
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}
