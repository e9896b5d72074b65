//! ShareAcknowledge (key 79), v1–2 (KIP-932; design docs/design/share-groups.md §7.4, §7.8): a
//! share consumer's acknowledgements outside a ShareFetch (`commitSync`/`commitAsync`, and on
//! `close()` with the final epoch). v2 (KIP-1222): `IsRenewAck` allows RENEW (type 4), which
//! restarts the lock of records the member holds (RENEW otherwise is INVALID_REQUEST for the
//! partition), and the answer carries `AcquisitionLockTimeoutMs`, the group's lock duration,
//! which the client takes as the renewed lock's length.
//!
//! Steps 1–4 of ShareFetch (`share_fetch.rs`): group and member ids, READ on the group, the
//! share session (epoch 0 is INVALID_SHARE_SESSION_EPOCH: a session cannot start with an
//! acknowledgement; -1 ends it after the acknowledgements, releasing the member's other
//! records), each partition, then the acknowledgements with a per-partition `ErrorCode`
//! (INVALID_RECORD_STATE for offsets the member does not hold, INVALID_REQUEST for malformed
//! batches). Async: an acknowledgement's state is written (awaited) before it is answered.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, PartitionData, ShareAcknowledgeTopicResponse,
};
use kafka_protocol::messages::{ShareAcknowledgeRequest, ShareAcknowledgeResponse};

use super::context::RequestContext;
use super::share_fetch::{current_leader, renew_refused, session_error_code};
use crate::broker::TopicRef;
use crate::broker::share_sessions::ShareSessionKey;
use crate::security::acl::AclOperation;
use crate::share::{AcknowledgementBatch, SharePartitionKey};

pub async fn handle(
    ctx: &RequestContext,
    req: ShareAcknowledgeRequest,
) -> ShareAcknowledgeResponse {
    let b = &ctx.broker;
    let group = req.group_id.as_ref().map_or("", |g| g.as_str()).to_string();
    let member = req
        .member_id
        .as_ref()
        .map_or("", |m| m.as_str())
        .to_string();
    let top = |code: E| ShareAcknowledgeResponse::default().with_error_code(code.code());
    if group.is_empty() || member.is_empty() {
        return top(E::InvalidRequest);
    }
    if !ctx.authorize_group(AclOperation::Read, &group) {
        return top(E::GroupAuthorizationFailed);
    }
    let key = ShareSessionKey {
        group_id: group.clone(),
        member_id: member.clone(),
    };
    let now = b.now_ms();
    let closing = match b.share_sessions.acknowledge_context(
        &key,
        req.share_session_epoch,
        ctx.conn.conn_id,
        now,
    ) {
        Ok(closing) => closing,
        Err(e) => {
            return ShareAcknowledgeResponse::default().with_error_code(session_error_code(e));
        }
    };
    let settings = b.share_settings(&group);
    let persister = b.share_persister();
    let mut responses: Vec<ShareAcknowledgeTopicResponse> = Vec::new();
    for t in &req.topics {
        let mut topic = ShareAcknowledgeTopicResponse::default().with_topic_id(t.topic_id);
        for p in &t.partitions {
            let resolved = b
                .leader_partition(TopicRef::Id(t.topic_id), p.partition_index)
                .and_then(|part| {
                    if ctx.authorize_topic(AclOperation::Read, &part.topic) {
                        Ok(part)
                    } else {
                        Err(E::TopicAuthorizationFailed.code())
                    }
                });
            let code = match &resolved {
                Ok(part) => {
                    let batches: Vec<AcknowledgementBatch> = p
                        .acknowledgement_batches
                        .iter()
                        .map(|a| AcknowledgementBatch {
                            first_offset: a.first_offset,
                            last_offset: a.last_offset,
                            acknowledge_types: a.acknowledge_types.clone(),
                        })
                        .collect();
                    let spk = SharePartitionKey {
                        group_id: group.clone(),
                        topic_id: t.topic_id,
                        partition: p.partition_index,
                    };
                    if renew_refused(ctx.version, req.is_renew_ack, &batches) {
                        E::InvalidRequest.code()
                    } else {
                        b.shares
                            .acknowledge(
                                &spk,
                                &member,
                                &batches,
                                now,
                                &settings,
                                part.leader_epoch(),
                                &*persister,
                            )
                            .await
                            .map_or_else(|e| e.code(), |()| 0)
                    }
                }
                Err(code) => *code,
            };
            let (leader_id, leader_epoch) = current_leader(ctx, &resolved);
            topic.partitions.push(
                PartitionData::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code)
                    .with_current_leader(
                        LeaderIdAndEpoch::default()
                            .with_leader_id(leader_id)
                            .with_leader_epoch(leader_epoch),
                    ),
            );
        }
        responses.push(topic);
    }
    if closing {
        b.end_share_session(&key).await;
    }
    ShareAcknowledgeResponse::default()
        // v2 only (ignorable: left out below v2).
        .with_acquisition_lock_timeout_ms(
            settings.record_lock_duration_ms.clamp(0, i32::MAX as i64) as i32,
        )
        .with_responses(responses)
}
