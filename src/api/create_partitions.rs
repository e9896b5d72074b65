//! CreatePartitions (key 37), v0–v3: grow a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::context::{RequestContext, str_bytes};
use crate::cluster::controller::NewPartitions;

pub async fn handle(
    ctx: &RequestContext,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let b = &ctx.broker;
    let mut results = Vec::with_capacity(req.topics.len());
    let specs: Vec<NewPartitions> = req
        .topics
        .into_iter()
        .map(|t| {
            results.push(CreatePartitionsTopicResult::default().with_name(t.name.clone()));
            NewPartitions {
                name: t.name.as_str().to_string(),
                total: t.count,
                assignments: t
                    .assignments
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| a.broker_ids.into_iter().map(|id| id.0).collect())
                    .collect(),
            }
        })
        .collect();
    let outcomes = b.create_partitions(specs, req.validate_only).await;
    for (r, outcome) in results.iter_mut().zip(outcomes) {
        if let Err(e) = outcome {
            r.error_code = e.code;
            r.error_message = Some(str_bytes(e.message));
        }
    }
    CreatePartitionsResponse::default().with_results(results)
}
