//! CreatePartitions (key 37), v0–v3: grow a topic's partition count.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::context::{RequestContext, str_bytes, topic_error};

pub fn handle(ctx: &RequestContext, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let b = &ctx.broker;
    let results = req
        .topics
        .into_iter()
        .map(|t| {
            let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if let Some(assign) = &t.assignments
                && assign
                    .iter()
                    .any(|a| a.broker_ids.iter().any(|id| id.0 != b.node_id))
            {
                return r
                    .with_error_code(E::InvalidReplicaAssignment.code())
                    .with_error_message(Some(str_bytes(format!(
                        "Replica assignment may only name broker {}",
                        b.node_id
                    ))));
            }
            match b
                .topics
                .add_partitions(t.name.as_str(), t.count, req.validate_only, b.now_ms())
            {
                Ok(()) => r,
                Err(e) => {
                    let (code, msg) = topic_error(&e);
                    r.with_error_code(code).with_error_message(msg)
                }
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
