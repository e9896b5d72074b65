//! OffsetDelete (key 47), v0: delete committed offsets of topics the group no
//! longer subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use kafka_protocol::ResponseError as E;

use super::context::RequestContext;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let b = &ctx.broker;
    // Kafka's checks: Delete on the group, Read on each topic.
    if !ctx.authorize_group(AclOperation::Delete, req.group_id.as_str()) {
        return OffsetDeleteResponse::default().with_error_code(E::GroupAuthorizationFailed.code());
    }
    let topic_ok = ctx.authorize_topics(
        AclOperation::Read,
        req.topics.iter().map(|t| t.name.as_str()),
    );
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .filter(|t| topic_ok[t.name.as_str()])
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str().to_string(), p.partition_index))
        })
        .collect();
    let codes =
        match b
            .groups
            .delete_offsets(&b.topics, req.group_id.as_str(), partitions, b.now_ms())
        {
            Ok(codes) => codes,
            Err(code) => return OffsetDeleteResponse::default().with_error_code(code),
        };
    let mut codes = codes.into_iter();
    OffsetDeleteResponse::default().with_topics(
        req.topics
            .iter()
            .map(|t| {
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                let code = if topic_ok[t.name.as_str()] {
                                    codes.next().unwrap_or(0)
                                } else {
                                    E::TopicAuthorizationFailed.code()
                                };
                                OffsetDeleteResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(code)
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
