//! InitProducerId (key 22), v0–v6, for idempotent producers: a fresh producer
//! id at epoch 0 each time, as Kafka does without a transactional id.
//! Transactional ids come with the transaction coordinator (issue 4) and are
//! refused until then.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::RequestContext;

pub fn handle(ctx: &RequestContext, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let resp = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if req.transactional_id.is_some() {
        return resp.with_error_code(E::TransactionalIdAuthorizationFailed.code());
    }
    match ctx.broker.producer_ids.next_id() {
        Ok(id) => resp.with_producer_id(ProducerId(id)).with_producer_epoch(0),
        Err(e) => {
            tracing::error!("cannot allocate a producer id: {e}");
            resp.with_error_code(E::KafkaStorageError.code())
        }
    }
}
