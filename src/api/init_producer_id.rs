//! InitProducerId (key 22), v0–v5. Without a transactional id: a fresh
//! producer id at epoch 0, as Kafka does for idempotent producers. With one:
//! the transaction coordinator's id and a bumped epoch, which fences older
//! incarnations and aborts their open transaction (KIP-98, KIP-360).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use kafka_protocol::ResponseError as E;

use super::context::RequestContext;
use crate::security::acl::{AclOperation, ResourceType};

pub async fn handle(ctx: &RequestContext, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let b = &ctx.broker;
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // Kafka's checks: Write on the transactional id; an idempotent producer needs
    // IdempotentWrite on the cluster or Write on some topic (KIP-679).
    let denied = match &req.transactional_id {
        Some(id) => (!ctx.authorize_transactional_id(AclOperation::Write, id.as_str()))
            .then_some(E::TransactionalIdAuthorizationFailed),
        None => (!ctx.authorize_cluster(AclOperation::IdempotentWrite)
            && !ctx.authorize_any(AclOperation::Write, ResourceType::Topic))
        .then_some(E::ClusterAuthorizationFailed),
    };
    if let Some(code) = denied {
        return resp.with_error_code(code.code());
    }
    b.refill_producer_ids().await;
    let result = match &req.transactional_id {
        Some(id) if b.check_txn_coordinator(id.as_str()).is_err() => {
            Err(kafka_protocol::ResponseError::NotCoordinator.code())
        }
        Some(id) => {
            let expected = (ctx.version >= 3 && req.producer_id.0 >= 0)
                .then_some((req.producer_id.0, req.producer_epoch));
            b.txns.init_producer_id(
                &b.txn_context(),
                id.as_str(),
                req.transaction_timeout_ms,
                expected,
                b.now_ms(),
            )
        }
        None => b.producer_ids.next_id().map(|id| (id, 0)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                // A cluster node waiting for its first block from the controller: retriable.
                return kafka_protocol::ResponseError::CoordinatorLoadInProgress.code();
            }
            tracing::error!("cannot allocate a producer id: {e}");
            kafka_protocol::ResponseError::KafkaStorageError.code()
        }),
    };
    match result {
        Ok((id, epoch)) => resp
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(code) => resp.with_error_code(code),
    }
}
