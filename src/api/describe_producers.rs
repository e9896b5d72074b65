//! DescribeProducers (key 61), v0: the idempotent and transactional producers
//! a partition knows, with their open transaction's first offset.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::context::RequestContext;
use crate::broker::TopicRef;
use crate::security::acl::AclOperation;

pub fn handle(ctx: &RequestContext, req: DescribeProducersRequest) -> DescribeProducersResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.as_str().to_string();
            let authorized = ctx.authorize_topic(AclOperation::Read, &name);
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| {
                    let r = PartitionResponse::default().with_partition_index(p);
                    if !authorized {
                        return r.with_error_code(
                            kafka_protocol::ResponseError::TopicAuthorizationFailed.code(),
                        );
                    }
                    let part = match ctx.broker.leader_partition(TopicRef::Name(&name), p) {
                        Ok(part) => part,
                        Err(code) => return r.with_error_code(code),
                    };
                    let active = part
                        .active_producers()
                        .into_iter()
                        .map(|a| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(a.producer_id))
                                .with_producer_epoch(a.producer_epoch)
                                .with_last_sequence(a.last_sequence)
                                .with_last_timestamp(-1)
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(a.current_txn_start_offset)
                        })
                        .collect();
                    r.with_active_producers(active)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}
