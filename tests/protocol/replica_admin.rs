//! Replica administration at every version, as a single broker answers it (the one replica of
//! every partition leads it): ElectLeaders (no election is ever needed; unknown topics and
//! partitions; every partition; a bad election type) and DescribeLogDirs (the log dir, the
//! replicas named, their sizes on disk, the volume's space from v4).

use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::*;

use crate::common::{Client, batch, create_topic, name, start, versions};

const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const INVALID_REQUEST: i16 = 42;
const ELECTION_NOT_NEEDED: i16 = 84;

fn elect(election_type: i8, topics: Option<&[(&str, &[i32])]>) -> ElectLeadersRequest {
    ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(5000)
        .with_topic_partitions(topics.map(|ts| {
            ts.iter()
                .map(|(t, ps)| {
                    TopicPartitions::default()
                        .with_topic(name(t))
                        .with_partitions(ps.to_vec())
                })
                .collect()
        }))
}

/// (topic, [(partition, error code, message)]) of an ElectLeaders answer.
type Outcome = Vec<(String, Vec<(i32, i16, Option<String>)>)>;

fn outcome(r: &ElectLeadersResponse) -> Outcome {
    r.replica_election_results
        .iter()
        .map(|t| {
            let parts = t
                .partition_result
                .iter()
                .map(|p| {
                    let msg = p.error_message.as_ref().map(|m| m.to_string());
                    (p.partition_id, p.error_code, msg)
                })
                .collect();
            (t.topic.to_string(), parts)
        })
        .collect()
}

#[tokio::test]
async fn elect_leaders_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "el", 3).await;
    create_topic(&mut c, "el2", 1).await;
    let not_needed = Some("Leader election not needed for topic partition.".to_string());
    for v in versions(ApiKey::ElectLeaders) {
        // v0 carries no election type: preferred. Unclean (v1+) finds a leader everywhere too.
        let types: &[i8] = if v == 0 { &[0] } else { &[0, 1] };
        for &ty in types {
            let req = elect(ty, Some(&[("el", &[0, 2, 9]), ("nope", &[0])]));
            let r: ElectLeadersResponse = c.call(ApiKey::ElectLeaders, v, &req).await;
            assert_eq!(r.error_code, 0, "v{v} type {ty}");
            assert_eq!(
                outcome(&r),
                vec![
                    (
                        "el".to_string(),
                        vec![
                            (0, ELECTION_NOT_NEEDED, not_needed.clone()),
                            (2, ELECTION_NOT_NEEDED, not_needed.clone()),
                            (
                                9,
                                UNKNOWN_TOPIC_OR_PARTITION,
                                Some("No such partition as el-9".into())
                            ),
                        ]
                    ),
                    (
                        "nope".to_string(),
                        vec![(
                            0,
                            UNKNOWN_TOPIC_OR_PARTITION,
                            Some("No such topic as nope".into())
                        )]
                    ),
                ],
                "v{v} type {ty}"
            );
        }
        // Every partition: every topic is listed, without the partitions that needed no election.
        let r: ElectLeadersResponse = c.call(ApiKey::ElectLeaders, v, &elect(0, None)).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(
            outcome(&r),
            vec![("el".to_string(), vec![]), ("el2".to_string(), vec![])],
            "v{v} all partitions"
        );
        if v >= 1 {
            // An unknown election type fails the request, at the top and for every partition.
            let r: ElectLeadersResponse = c
                .call(ApiKey::ElectLeaders, v, &elect(2, Some(&[("el", &[1])])))
                .await;
            assert_eq!(r.error_code, INVALID_REQUEST, "v{v}");
            assert_eq!(
                outcome(&r),
                vec![(
                    "el".to_string(),
                    vec![(1, INVALID_REQUEST, Some("Unknown election type 2".into()))]
                )],
                "v{v}"
            );
        }
    }
}

/// (topic, [(partition, size, offset lag, future)]) of a DescribeLogDirs answer's dir.
type Listed = Vec<(String, Vec<(i32, i64, i64, bool)>)>;

/// The sizes of a partition directory's .log files.
fn log_bytes(dir: &std::path::Path) -> i64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::metadata(p).unwrap().len() as i64)
        .sum()
}

#[tokio::test]
async fn describe_log_dirs_every_version() {
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "ld", 3).await;
    create_topic(&mut c, "ld2", 1).await;
    let produce = |values: &'static [&'static str]| {
        use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
        ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(1000)
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(name("ld"))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(batch(values, 1))),
                    ]),
            ])
    };
    let r: ProduceResponse = c.call(ApiKey::Produce, 9, &produce(&["a", "b", "c"])).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    let log_dir = std::path::absolute(&b.broker.config.log_dir).unwrap();

    let mut last_size = 0;
    for v in versions(ApiKey::DescribeLogDirs) {
        // Every replica.
        let r: DescribeLogDirsResponse = c
            .call(
                ApiKey::DescribeLogDirs,
                v,
                &DescribeLogDirsRequest::default().with_topics(None),
            )
            .await;
        assert_eq!((r.error_code, r.results.len()), (0, 1), "v{v}");
        let dir = &r.results[0];
        assert_eq!(dir.error_code, 0);
        assert_eq!(dir.log_dir.as_str(), log_dir.display().to_string());
        if v >= 4 {
            assert!(dir.total_bytes > 0, "v{v}: total {}", dir.total_bytes);
            assert!(
                (0..=dir.total_bytes).contains(&dir.usable_bytes),
                "v{v}: usable {} of {}",
                dir.usable_bytes,
                dir.total_bytes
            );
        } else {
            assert_eq!((dir.total_bytes, dir.usable_bytes), (-1, -1), "v{v}");
        }
        let listed: Listed = dir
            .topics
            .iter()
            .map(|t| {
                let mut ps: Vec<_> = t
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            p.partition_size,
                            p.offset_lag,
                            p.is_future_key,
                        )
                    })
                    .collect();
                ps.sort();
                (t.name.to_string(), ps)
            })
            .collect();
        let size = log_bytes(&log_dir.join("ld-0"));
        assert!(size > last_size, "v{v}: ld-0 did not grow: {size}");
        assert_eq!(
            listed,
            vec![
                (
                    "ld".to_string(),
                    vec![(0, size, 0, false), (1, 0, 0, false), (2, 0, 0, false)]
                ),
                ("ld2".to_string(), vec![(0, 0, 0, false)]),
            ],
            "v{v}"
        );

        // Named replicas only; a topic none of whose replicas is here is left out.
        let named = |t: &str, ps: Vec<i32>| {
            DescribableLogDirTopic::default()
                .with_topic(name(t))
                .with_partitions(ps)
        };
        let r: DescribeLogDirsResponse = c
            .call(
                ApiKey::DescribeLogDirs,
                v,
                &DescribeLogDirsRequest::default()
                    .with_topics(Some(vec![named("ld", vec![2, 7]), named("nope", vec![0])])),
            )
            .await;
        let t = &r.results[0].topics;
        assert_eq!(t.len(), 1, "v{v}");
        assert_eq!(t[0].name.as_str(), "ld");
        let ps: Vec<i32> = t[0].partitions.iter().map(|p| p.partition_index).collect();
        assert_eq!(ps, vec![2], "v{v}");
        let r: DescribeLogDirsResponse = c
            .call(
                ApiKey::DescribeLogDirs,
                v,
                &DescribeLogDirsRequest::default().with_topics(Some(vec![])),
            )
            .await;
        assert!(r.results[0].topics.is_empty(), "v{v}");

        // More records: a larger ld-0 in the next version's answer.
        let r: ProduceResponse = c.call(ApiKey::Produce, 9, &produce(&["more"])).await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        last_size = size;
    }
}
