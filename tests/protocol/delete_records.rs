//! DeleteRecords at every version and its effect on fetches and ListOffsets.

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;

use crate::common::{Client, batch, create_topic, name, start, versions};

/// DeleteRecords at every version: the low watermark moves, fetches below it
/// are OFFSET_OUT_OF_RANGE, ListOffsets earliest follows, -1 means the high
/// watermark, past the end is OFFSET_OUT_OF_RANGE.
#[tokio::test]
async fn delete_records_every_version() {
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    let b = start(&[]).await;
    let mut c = Client::connect(b.addr).await;
    for v in versions(ApiKey::DeleteRecords) {
        let topic = format!("dr-{v}");
        create_topic(&mut c, &topic, 1).await;
        for i in 0..4 {
            let r: ProduceResponse = c
                .call(
                    ApiKey::Produce,
                    9,
                    &ProduceRequest::default()
                        .with_acks(1)
                        .with_timeout_ms(1000)
                        .with_topic_data(vec![
                            TopicProduceData::default()
                                .with_name(name(&topic))
                                .with_partition_data(vec![
                                    PartitionProduceData::default()
                                        .with_index(0)
                                        .with_records(Some(batch(&["a", "b"], i))),
                                ]),
                        ]),
                )
                .await;
            assert_eq!(r.responses[0].partition_responses[0].base_offset, i * 2);
        }
        let delete = |offset: i64| {
            DeleteRecordsRequest::default()
                .with_timeout_ms(1000)
                .with_topics(vec![
                    DeleteRecordsTopic::default()
                        .with_name(name(&topic))
                        .with_partitions(vec![
                            DeleteRecordsPartition::default()
                                .with_partition_index(0)
                                .with_offset(offset),
                        ]),
                ])
        };
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(3)).await;
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.low_watermark),
            (0, 3),
            "delete records v{v}"
        );
        let r: ListOffsetsResponse = c
            .call(
                ApiKey::ListOffsets,
                5,
                &ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![
                        ListOffsetsTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                ListOffsetsPartition::default()
                                    .with_partition_index(0)
                                    .with_timestamp(-2),
                            ]),
                    ]),
            )
            .await;
        assert_eq!(r.topics[0].partitions[0].offset, 3);
        let r: FetchResponse = c
            .call(
                ApiKey::Fetch,
                12,
                &FetchRequest::default()
                    .with_max_wait_ms(0)
                    .with_max_bytes(1 << 20)
                    .with_topics(vec![
                        FetchTopic::default()
                            .with_topic(name(&topic))
                            .with_partitions(vec![
                                FetchPartition::default()
                                    .with_partition(0)
                                    .with_fetch_offset(1)
                                    .with_partition_max_bytes(1 << 20),
                            ]),
                    ]),
            )
            .await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(
            (p.error_code, p.log_start_offset),
            (1, 3),
            "below the log start"
        );
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(99)).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 1, "past the end");
        let r: DeleteRecordsResponse = c.call(ApiKey::DeleteRecords, v, &delete(-1)).await;
        assert_eq!(
            r.topics[0].partitions[0].low_watermark, 8,
            "-1: the high watermark"
        );
    }
}
