//! OffsetDelete (key 47), v0: delete committed offsets of topics the group no
//! longer subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use super::context::RequestContext;

pub fn handle(ctx: &RequestContext, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let b = &ctx.broker;
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
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
                                OffsetDeleteResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(codes.next().unwrap_or(0))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
