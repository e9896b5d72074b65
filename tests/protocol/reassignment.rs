//! Partition reassignment on a single broker at every version: AlterPartitionReassignments
//! answered as a one-broker Kafka does (moving a partition to this broker changes nothing, any
//! other broker is not registered, nothing is in progress to cancel), and
//! ListPartitionReassignments with nothing in progress. The cluster's reassignments are
//! `cluster::controller`'s tests, tests/cluster_sim.rs and compat-tests/test_reassignment.py.

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::*;

use crate::common::{Client, create_topic, name, start, versions};

fn partition(index: i32, replicas: Option<&[i32]>) -> ReassignablePartition {
    ReassignablePartition::default()
        .with_partition_index(index)
        .with_replicas(replicas.map(|r| r.iter().copied().map(BrokerId).collect()))
}

#[tokio::test]
async fn reassignment_apis_every_version() {
    let b = start(&[]).await;
    let me = b.broker.node_id;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "mv", 2).await;
    for v in versions(ApiKey::AlterPartitionReassignments) {
        for allow in [true, false] {
            let mut req = AlterPartitionReassignmentsRequest::default()
                .with_timeout_ms(1000)
                .with_topics(vec![
                    ReassignableTopic::default()
                        .with_name(name("mv"))
                        .with_partitions(vec![
                            partition(0, Some(&[me])),
                            partition(1, Some(&[me, me + 1])),
                            partition(1, Some(&[])),
                            partition(1, Some(&[me, me])),
                            partition(0, None),
                            partition(7, Some(&[me])),
                        ]),
                    ReassignableTopic::default()
                        .with_name(name("nope"))
                        .with_partitions(vec![partition(0, Some(&[me]))]),
                ]);
            if v >= 1 {
                req.allow_replication_factor_change = allow;
            }
            let r: AlterPartitionReassignmentsResponse =
                c.call(ApiKey::AlterPartitionReassignments, v, &req).await;
            assert_eq!((r.error_code, r.error_message.clone()), (0, None), "v{v}");
            assert_eq!(r.allow_replication_factor_change, v == 0 || allow, "v{v}");
            let got: Vec<(String, i32, i16)> = r
                .responses
                .iter()
                .flat_map(|t| {
                    t.partitions
                        .iter()
                        .map(|p| (t.name.to_string(), p.partition_index, p.error_code))
                })
                .collect();
            let want = [
                ("mv", 0, 0),
                ("mv", 1, 39), // INVALID_REPLICA_ASSIGNMENT: broker me+1 is not registered
                ("mv", 1, 39), // an empty list
                ("mv", 1, 39), // a duplicate
                ("mv", 0, 85), // NO_REASSIGNMENT_IN_PROGRESS
                ("mv", 7, 3),  // UNKNOWN_TOPIC_OR_PARTITION
                ("nope", 0, 3),
            ];
            let want: Vec<(String, i32, i16)> = want
                .iter()
                .map(|&(t, p, e)| (t.to_string(), p, e))
                .collect();
            assert_eq!(got, want, "v{v}");
            let ok = &r.responses[0].partitions[0];
            assert_eq!(ok.error_message, None, "v{v}");
            let unknown_broker = r.responses[0].partitions[1].error_message.as_deref();
            assert_eq!(
                unknown_broker,
                Some(
                    format!(
                        "The manual partition assignment includes broker {}, but no broker with that id is registered.",
                        me + 1
                    )
                    .as_str()
                ),
                "v{v}"
            );
        }
    }
    for v in versions(ApiKey::ListPartitionReassignments) {
        for topics in [
            None,
            Some(vec![
                ListPartitionReassignmentsTopics::default()
                    .with_name(name("mv"))
                    .with_partition_indexes(vec![0, 1]),
            ]),
        ] {
            let r: ListPartitionReassignmentsResponse = c
                .call(
                    ApiKey::ListPartitionReassignments,
                    v,
                    &ListPartitionReassignmentsRequest::default()
                        .with_timeout_ms(1000)
                        .with_topics(topics),
                )
                .await;
            assert_eq!(
                (r.error_code, r.error_message, r.topics.len()),
                (0, None, 0)
            );
        }
    }
}
