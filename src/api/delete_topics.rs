//! DeleteTopics (key 20), v1–v6: by name, or (v6) by topic id.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use uuid::Uuid;

use super::context::{RequestContext, topic_error};

pub fn handle(ctx: &RequestContext, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let b = &ctx.broker;
    // v6 names topics in `topics` (name or id); older versions in `topic_names`.
    let mut wanted: Vec<(Option<TopicName>, Uuid)> = req
        .topic_names
        .into_iter()
        .map(|n| (Some(n), Uuid::nil()))
        .collect();
    wanted.extend(req.topics.into_iter().map(|t| (t.name, t.topic_id)));
    let responses = wanted
        .into_iter()
        .map(|(name, id)| {
            let topic = match &name {
                Some(n) => b.topics.get(n.as_str()),
                None => b.topics.get_by_id(id),
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
                return r.with_error_code(code.code());
            };
            r.name = Some(TopicName(super::context::str_bytes(topic.name.clone())));
            r.topic_id = topic.id;
            match b.topics.delete(&topic.name) {
                Ok(_) => r,
                Err(e) => {
                    let (code, msg) = topic_error(&e);
                    r.with_error_code(code).with_error_message(msg)
                }
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}
