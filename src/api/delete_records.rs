//! DeleteRecords (key 21), v0–v2: move a partition's log start offset
//! (kafka-delete-records.sh); -1 means up to the high watermark.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::context::RequestContext;
use super::context::log_error_code;
use crate::broker::TopicRef;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.as_str().to_string();
            let authorized = ctx.authorize_topic(AclOperation::Delete, &name);
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let r = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    if !authorized {
                        return r.with_error_code(
                            kafka_protocol::ResponseError::TopicAuthorizationFailed.code(),
                        );
                    }
                    let part = match ctx
                        .broker
                        .leader_partition(TopicRef::Name(&name), p.partition_index)
                    {
                        Ok(part) => part,
                        Err(code) => return r.with_error_code(code),
                    };
                    match part.delete_records_before(p.offset) {
                        Ok(low) => r.with_low_watermark(low),
                        Err((e, low)) => r
                            .with_low_watermark(low)
                            .with_error_code(log_error_code(&e).code()),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
