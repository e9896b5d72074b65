//! CreatePartitions (key 37), v0–v3: grow a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::context::{RequestContext, str_bytes};
use crate::cluster::controller::NewPartitions;
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let b = &ctx.broker;
    let mut results = Vec::with_capacity(req.topics.len());
    // Alter on each topic; the refused ones are not sent on.
    let mut slots = Vec::new();
    let specs: Vec<NewPartitions> = req
        .topics
        .into_iter()
        .filter_map(|t| {
            let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            if !ctx.authorize_topic(AclOperation::Alter, t.name.as_str()) {
                results.push(
                    r.with_error_code(
                        kafka_protocol::ResponseError::TopicAuthorizationFailed.code(),
                    )
                    .with_error_message(Some(str_bytes("Authorization failed."))),
                );
                return None;
            }
            slots.push(results.len());
            results.push(r);
            Some(NewPartitions {
                name: t.name.as_str().to_string(),
                total: t.count,
                assignments: t
                    .assignments
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| a.broker_ids.into_iter().map(|id| id.0).collect())
                    .collect(),
            })
        })
        .collect();
    let outcomes = b.create_partitions(specs, req.validate_only).await;
    for (slot, outcome) in slots.into_iter().zip(outcomes) {
        let r = &mut results[slot];
        if let Err(e) = outcome {
            r.error_code = e.code;
            r.error_message = Some(str_bytes(e.message));
        }
    }
    CreatePartitionsResponse::default().with_results(results)
}
