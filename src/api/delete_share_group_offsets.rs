//! DeleteShareGroupOffsets (key 92), v0 (KIP-932; design §9.3): forget a share group's state
//! of whole topics (`kafka-share-groups.sh --delete-offsets`, Admin.deleteShareGroupOffsets);
//! the group starts them again from `share.auto.offset.reset`.
//!
//! A group id (INVALID_GROUP_ID), DELETE on the group (GROUP_AUTHORIZATION_FAILED), this node its coordinator
//! (NOT_COORDINATOR), a share group (GROUP_ID_NOT_FOUND) with no members (NON_EMPTY_GROUP);
//! all top-level errors. Per topic: UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED
//! without READ on it, else its state is tombstoned (KAFKA_STORAGE_ERROR when it cannot be;
//! awaited before the answer).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::delete_share_group_offsets_response::DeleteShareGroupOffsetsResponseTopic as Topic;
use kafka_protocol::messages::{DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse};

use super::context::{RequestContext, str_bytes};
use crate::security::acl::AclOperation;

pub async fn handle(
    ctx: &RequestContext,
    req: DeleteShareGroupOffsetsRequest,
) -> DeleteShareGroupOffsetsResponse {
    let b = &ctx.broker;
    let gid = req.group_id.as_str();
    let top = |code: i16, message: Option<String>| {
        DeleteShareGroupOffsetsResponse::default()
            .with_error_code(code)
            .with_error_message(message.map(str_bytes))
    };
    if gid.is_empty() {
        return top(E::InvalidGroupId.code(), None);
    }
    if !ctx.authorize_group(AclOperation::Delete, gid) {
        return top(E::GroupAuthorizationFailed.code(), None);
    }
    match b
        .groups
        .share_group_members(&b.topics, gid, None, b.now_ms())
    {
        Ok(0) => {}
        Ok(_) => {
            return top(
                E::NonEmptyGroup.code(),
                Some(format!(
                    "Share group {gid} is not empty: its offsets can only be deleted with no members."
                )),
            );
        }
        Err((code, message)) => return top(code, (!message.is_empty()).then_some(message)),
    }
    let views = b.topic_views();
    let mut responses = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = t.topic_name.as_str();
        let view = views.iter().find(|v| v.name == name);
        let code = if !ctx.authorize_topic(AclOperation::Read, name) {
            E::TopicAuthorizationFailed.code()
        } else if let Some(v) = view {
            b.delete_share_state(gid, Some(v.id))
                .await
                .err()
                .unwrap_or(0)
        } else {
            E::UnknownTopicOrPartition.code()
        };
        responses.push(
            Topic::default()
                .with_topic_name(t.topic_name.clone())
                .with_topic_id(view.map(|v| v.id).unwrap_or_default())
                .with_error_code(code),
        );
    }
    DeleteShareGroupOffsetsResponse::default().with_responses(responses)
}
