//! DeleteTopics (key 20), v1–v6: by name, or (v6) by topic id.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use uuid::Uuid;

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub async fn handle(ctx: &RequestContext, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let b = &ctx.broker;
    // v6 names topics in `topics` (name or id); older versions in `topic_names`.
    let mut wanted: Vec<(Option<TopicName>, Uuid)> = req
        .topic_names
        .into_iter()
        .map(|n| (Some(n), Uuid::nil()))
        .collect();
    wanted.extend(req.topics.into_iter().map(|t| (t.name, t.topic_id)));
    let mut responses = Vec::with_capacity(wanted.len());
    let mut names = Vec::new();
    for (name, id) in wanted {
        // Delete on the topic (named: before saying whether it exists, as Kafka).
        if let Some(n) = &name
            && !ctx.authorize_topic(AclOperation::Delete, n.as_str())
        {
            responses.push(
                DeletableTopicResult::default()
                    .with_name(name.clone())
                    .with_topic_id(id)
                    .with_error_code(E::TopicAuthorizationFailed.code()),
            );
            continue;
        }
        let topic = match &name {
            Some(n) => b.topic_view(n.as_str()),
            None => b.topic_view_by_id(id),
        };
        let mut r = DeletableTopicResult::default()
            .with_name(name.clone())
            .with_topic_id(id);
        let Some(topic) = topic else {
            let code = if name.is_some() {
                E::UnknownTopicOrPartition
            } else {
                E::UnknownTopicId
            };
            responses.push(r.with_error_code(code.code()));
            continue;
        };
        if name.is_none() && !ctx.authorize_topic(AclOperation::Delete, &topic.name) {
            responses.push(r.with_error_code(E::TopicAuthorizationFailed.code()));
            continue;
        }
        r.name = Some(TopicName(str_bytes(topic.name.clone())));
        r.topic_id = topic.id;
        names.push((responses.len(), topic.name));
        responses.push(r);
    }
    let slots: Vec<usize> = names.iter().map(|(i, _)| *i).collect();
    let outcomes = b
        .delete_topics(names.into_iter().map(|(_, n)| n).collect())
        .await;
    for (slot, outcome) in slots.into_iter().zip(outcomes) {
        if let Err(e) = outcome {
            responses[slot].error_code = e.code;
            responses[slot].error_message = Some(str_bytes(e.message));
        }
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
