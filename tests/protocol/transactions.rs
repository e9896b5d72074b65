//! Transactions at every version: the producer-side transaction APIs
//! (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
//! EndTxn) and the admin side (ListTransactions, DescribeTransactions,
//! DescribeProducers).

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use crate::common::{Client, create_topic, encode_batch, name, start, values_of, versions};

fn txn_batch(values: &[&str], producer_id: i64, epoch: i16, base_sequence: i32) -> Bytes {
    encode_batch(values, 1, Some((producer_id, epoch, base_sequence)))
}

/// A committed and an aborted transaction at every version of the transaction
/// APIs: InitProducerId with a transactional id, AddPartitionsToTxn (v0–3 and
/// the batched v4+), AddOffsetsToTxn, TxnOffsetCommit, EndTxn; read_committed
/// fetches stop at the last stable offset and list aborted transactions;
/// require_stable offset fetches see UNSTABLE_OFFSET_COMMIT; a new incarnation
/// fences the old epoch.
#[tokio::test]
async fn txn_apis_every_version() {
    use kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "xt", 1).await;
    let v_of = |key: ApiKey, i: i16| {
        let r = versions(key);
        i.clamp(*r.start(), *r.end())
    };
    let mut next_offset = 0i64;
    for i in 0..=5i16 {
        let txn = TransactionalId(StrBytes::from_string(format!("txn-{i}")));
        let group = GroupId(StrBytes::from_string(format!("xg-{i}")));
        let init = || {
            InitProducerIdRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        let v = v_of(ApiKey::InitProducerId, i);
        let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, v, &init()).await;
        assert_eq!((r.error_code, r.producer_epoch), (0, 0), "init v{v}");
        let (pid, epoch) = (r.producer_id.0, r.producer_epoch);

        let add_partitions = |v: i16, pid: i64, epoch: i16| {
            let topics = vec![
                AddPartitionsToTxnTopic::default()
                    .with_name(name("xt"))
                    .with_partitions(vec![0]),
            ];
            if v <= 3 {
                AddPartitionsToTxnRequest::default()
                    .with_v3_and_below_transactional_id(txn.clone())
                    .with_v3_and_below_producer_id(ProducerId(pid))
                    .with_v3_and_below_producer_epoch(epoch)
                    .with_v3_and_below_topics(topics)
            } else {
                AddPartitionsToTxnRequest::default().with_transactions(vec![
                    AddPartitionsToTxnTransaction::default()
                        .with_transactional_id(txn.clone())
                        .with_producer_id(ProducerId(pid))
                        .with_producer_epoch(epoch)
                        .with_topics(topics),
                ])
            }
        };
        let partition_code = |r: &AddPartitionsToTxnResponse, v: i16| {
            if v <= 3 {
                r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
            } else {
                r.results_by_transaction[0].topic_results[0].results_by_partition[0]
                    .partition_error_code
            }
        };
        let produce = |records: Bytes| {
            ProduceRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("xt"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(records)),
                        ]),
                ])
        };
        let fetch_committed = |offset: i64| {
            FetchRequest::default()
                .with_max_wait_ms(0)
                .with_max_bytes(1 << 20)
                .with_isolation_level(1)
                .with_topics(vec![
                    FetchTopic::default()
                        .with_topic(name("xt"))
                        .with_partitions(vec![
                            FetchPartition::default()
                                .with_partition(0)
                                .with_fetch_offset(offset)
                                .with_partition_max_bytes(1 << 20),
                        ]),
                ])
        };

        // A transactional batch before its partition was added is refused (KIP-890).
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["early"], pid, epoch, 0)),
            )
            .await;
        assert_eq!(
            r.responses[0].partition_responses[0].error_code, 48,
            "INVALID_TXN_STATE"
        );

        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let r: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        assert_eq!(partition_code(&r, v), 0, "add partitions v{v}");
        let first = next_offset;
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["c1", "c2"], pid, epoch, 0)),
            )
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        assert_eq!(r.responses[0].partition_responses[0].base_offset, first);

        let v = v_of(ApiKey::AddOffsetsToTxn, i);
        let r: AddOffsetsToTxnResponse = c
            .call(
                ApiKey::AddOffsetsToTxn,
                v,
                &AddOffsetsToTxnRequest::default()
                    .with_transactional_id(txn.clone())
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_group_id(group.clone()),
            )
            .await;
        assert_eq!(r.error_code, 0, "add offsets v{v}");
        let v = v_of(ApiKey::TxnOffsetCommit, i);
        let r: TxnOffsetCommitResponse = c
            .call(
                ApiKey::TxnOffsetCommit,
                v,
                &TxnOffsetCommitRequest::default()
                    .with_transactional_id(txn.clone())
                    .with_group_id(group.clone())
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_generation_id(-1)
                    .with_topics(vec![
                        TxnOffsetCommitRequestTopic::default()
                            .with_name(name("xt"))
                            .with_partitions(vec![
                                TxnOffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(77),
                            ]),
                    ]),
            )
            .await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 0,
            "txn offset commit v{v}"
        );

        // Open transaction: read_committed sees nothing past it, offsets are unstable.
        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch_committed(first)).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.last_stable_offset, first);
        assert_eq!(p.records.as_ref().map_or(0, |r| r.len()), 0);
        let fetch_offsets = OffsetFetchRequest::default()
            .with_group_id(group.clone())
            .with_require_stable(true)
            .with_topics(Some(vec![
                OffsetFetchRequestTopic::default()
                    .with_name(name("xt"))
                    .with_partition_indexes(vec![0]),
            ]));
        let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 7, &fetch_offsets).await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 88,
            "UNSTABLE_OFFSET_COMMIT"
        );

        let v = v_of(ApiKey::EndTxn, i);
        let end = |commit: bool, epoch: i16| {
            EndTxnRequest::default()
                .with_transactional_id(txn.clone())
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_committed(commit)
        };
        let r: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(true, epoch)).await;
        assert_eq!(r.error_code, 0, "end txn v{v}");
        let retry: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(true, epoch)).await;
        assert_eq!(retry.error_code, 0, "a retried commit is a no-op");
        next_offset = first + 3; // two records and the COMMIT marker

        let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch_committed(first)).await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.last_stable_offset, next_offset);
        assert_eq!(
            values_of(p.records.clone().unwrap()),
            vec![(first, "c1".into()), (first + 1, "c2".into())]
        );
        let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 7, &fetch_offsets).await;
        let committed = &r.topics[0].partitions[0];
        assert_eq!((committed.error_code, committed.committed_offset), (0, 77));

        // An aborted transaction is listed for read_committed consumers.
        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let _: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        let aborted_first = next_offset;
        let r: ProduceResponse = c
            .call(
                ApiKey::Produce,
                11,
                &produce(txn_batch(&["a1"], pid, epoch, 2)),
            )
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
        let v = v_of(ApiKey::EndTxn, i);
        let r: EndTxnResponse = c.call(ApiKey::EndTxn, v, &end(false, epoch)).await;
        assert_eq!(r.error_code, 0, "abort v{v}");
        next_offset += 2;
        let r: FetchResponse = c
            .call(ApiKey::Fetch, 12, &fetch_committed(aborted_first))
            .await;
        let aborted = r.responses[0].partitions[0]
            .aborted_transactions
            .clone()
            .unwrap();
        assert_eq!(aborted.len(), 1);
        assert_eq!(
            (aborted[0].producer_id.0, aborted[0].first_offset),
            (pid, aborted_first)
        );

        // A new incarnation bumps the epoch and fences the old one.
        let v = v_of(ApiKey::InitProducerId, i);
        let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, v, &init()).await;
        assert_eq!((r.producer_id.0, r.producer_epoch), (pid, epoch + 1));
        let v = v_of(ApiKey::AddPartitionsToTxn, i);
        let r: AddPartitionsToTxnResponse = c
            .call(
                ApiKey::AddPartitionsToTxn,
                v,
                &add_partitions(v, pid, epoch),
            )
            .await;
        assert_eq!(partition_code(&r, v), 90, "PRODUCER_FENCED v{v}");
    }
}

/// kafka-transactions.sh's APIs at every version: an open transaction is
/// listed (with state, producer id, duration and pattern filters), described
/// with its partitions, and its producer shows the open transaction's first
/// offset in DescribeProducers.
#[tokio::test]
async fn txn_admin_apis_every_version() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::describe_producers_request::TopicRequest;

    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "at", 2).await;
    let txn = TransactionalId(StrBytes::from_static_str("admin-txn"));
    let r: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
    let pid = r.producer_id.0;
    let r: AddPartitionsToTxnResponse = c
        .call(
            ApiKey::AddPartitionsToTxn,
            3,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(txn.clone())
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(0)
                .with_v3_and_below_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(name("at"))
                        .with_partitions(vec![1]),
                ]),
        )
        .await;
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            11,
            &ProduceRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("at"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(1)
                                .with_records(Some(txn_batch(&["x", "y"], pid, 0, 0))),
                        ]),
                ]),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);

    for v in versions(ApiKey::ListTransactions) {
        let mut req = ListTransactionsRequest::default()
            .with_state_filters(vec![StrBytes::from_static_str("Ongoing")]);
        req.duration_filter = -1;
        if v >= 2 {
            req.transactional_id_pattern = Some(StrBytes::from_static_str("admin-.*"));
        }
        let r: ListTransactionsResponse = c.call(ApiKey::ListTransactions, v, &req).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(r.transaction_states.len(), 1, "list v{v}");
        let t = &r.transaction_states[0];
        assert_eq!(
            (t.transactional_id.as_str(), t.producer_id.0),
            ("admin-txn", pid)
        );
        assert_eq!(t.transaction_state.as_str(), "Ongoing");
        let none: ListTransactionsResponse = c
            .call(
                ApiKey::ListTransactions,
                v,
                &ListTransactionsRequest::default()
                    .with_state_filters(vec![
                        StrBytes::from_static_str("CompleteCommit"),
                        StrBytes::from_static_str("Bogus"),
                    ])
                    .with_duration_filter(-1),
            )
            .await;
        assert!(none.transaction_states.is_empty());
        assert_eq!(none.unknown_state_filters.len(), 1);
    }
    for v in versions(ApiKey::DescribeTransactions) {
        let r: DescribeTransactionsResponse = c
            .call(
                ApiKey::DescribeTransactions,
                v,
                &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                    txn.clone(),
                    TransactionalId(StrBytes::from_static_str("nope")),
                ]),
            )
            .await;
        let t = &r.transaction_states[0];
        assert_eq!(t.error_code, 0);
        assert_eq!(t.transaction_state.as_str(), "Ongoing");
        assert_eq!(
            (t.producer_id.0, t.producer_epoch, t.transaction_timeout_ms),
            (pid, 0, 60_000)
        );
        assert_eq!(t.topics.len(), 1);
        assert_eq!(
            (t.topics[0].topic.as_str(), t.topics[0].partitions.clone()),
            ("at", vec![1])
        );
        assert!(t.transaction_start_time_ms > 0);
        assert_eq!(
            r.transaction_states[1].error_code, 105,
            "TRANSACTIONAL_ID_NOT_FOUND"
        );
    }
    for v in versions(ApiKey::DescribeProducers) {
        let r: DescribeProducersResponse = c
            .call(
                ApiKey::DescribeProducers,
                v,
                &DescribeProducersRequest::default().with_topics(vec![
                    TopicRequest::default()
                        .with_name(name("at"))
                        .with_partition_indexes(vec![0, 1]),
                ]),
            )
            .await;
        let parts = &r.topics[0].partitions;
        assert!(parts[0].active_producers.is_empty());
        let p = &parts[1].active_producers[0];
        assert_eq!(
            (p.producer_id.0, p.producer_epoch, p.last_sequence),
            (pid, 0, 1)
        );
        assert_eq!(p.current_txn_start_offset, 0);
    }
}

/// WriteTxnMarkers v1 (what a transaction coordinator on another broker of a cluster sends):
/// a COMMIT marker written through it ends the producer's transaction on that partition, so
/// read_committed fetches see the records; a partition the broker does not have is refused
/// with UNKNOWN_TOPIC_OR_PARTITION.
#[tokio::test]
async fn write_txn_markers_v1_ends_a_partitions_transaction() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::write_txn_markers_request::{
        WritableTxnMarker, WritableTxnMarkerTopic,
    };

    assert_eq!(versions(ApiKey::WriteTxnMarkers), 1..=1);
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    create_topic(&mut c, "wm", 1).await;
    let txn = TransactionalId(StrBytes::from_static_str("wm-txn"));
    let r: InitProducerIdResponse = c
        .call(
            ApiKey::InitProducerId,
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
    let (pid, epoch) = (r.producer_id.0, r.producer_epoch);
    let r: AddPartitionsToTxnResponse = c
        .call(
            ApiKey::AddPartitionsToTxn,
            3,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(txn.clone())
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(name("wm"))
                        .with_partitions(vec![0]),
                ]),
        )
        .await;
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let r: ProduceResponse = c
        .call(
            ApiKey::Produce,
            11,
            &ProduceRequest::default()
                .with_transactional_id(Some(txn.clone()))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![
                    TopicProduceData::default()
                        .with_name(name("wm"))
                        .with_partition_data(vec![
                            PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(txn_batch(&["a", "b"], pid, epoch, 0))),
                        ]),
                ]),
        )
        .await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);

    let marker = |partitions: Vec<i32>| {
        WriteTxnMarkersRequest::default().with_markers(vec![
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_transaction_result(true)
                .with_coordinator_epoch(0)
                .with_topics(vec![
                    WritableTxnMarkerTopic::default()
                        .with_name(name("wm"))
                        .with_partition_indexes(partitions),
                ]),
        ])
    };
    let r: WriteTxnMarkersResponse = c
        .call(ApiKey::WriteTxnMarkers, 1, &marker(vec![0, 9]))
        .await;
    let m = &r.markers[0];
    assert_eq!(m.producer_id.0, pid);
    let codes: Vec<(i32, i16)> = m.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code))
        .collect();
    assert_eq!(
        codes,
        vec![(0, 0), (9, 3)],
        "written; UNKNOWN_TOPIC_OR_PARTITION"
    );

    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_isolation_level(1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name("wm"))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    let r: FetchResponse = c.call(ApiKey::Fetch, 12, &fetch).await;
    let p = &r.responses[0].partitions[0];
    assert_eq!(p.last_stable_offset, 3, "two records and the COMMIT marker");
    assert_eq!(
        values_of(p.records.clone().unwrap()),
        vec![(0, "a".into()), (1, "b".into())]
    );
}
