//! EndTxn (key 26), v0–v5: commit or abort; the markers are written before
//! the answer.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::context::RequestContext;
use crate::security::acl::AclOperation;
use crate::txn::coordinator::TxnProducer;

pub fn handle(ctx: &RequestContext, req: EndTxnRequest) -> EndTxnResponse {
    let b = &ctx.broker;
    let authorized =
        ctx.authorize_transactional_id(AclOperation::Write, req.transactional_id.as_str());
    let code = if !authorized {
        Err(kafka_protocol::ResponseError::TransactionalIdAuthorizationFailed.code())
    } else {
        Ok(())
    };
    let code = code
        .and_then(|()| b.check_txn_coordinator(req.transactional_id.as_str()))
        .and_then(|()| {
            b.txns.end_txn(
                &b.txn_context(),
                TxnProducer {
                    transactional_id: req.transactional_id.as_str(),
                    producer_id: req.producer_id.0,
                    producer_epoch: req.producer_epoch,
                },
                req.committed,
                b.now_ms(),
            )
        })
        .err()
        .unwrap_or(0);
    let mut resp = EndTxnResponse::default().with_error_code(code);
    if ctx.version >= 5 {
        // v5 (KIP-890 part 2) reports the producer id and epoch to use next.
        resp.producer_id = ProducerId(req.producer_id.0);
        resp.producer_epoch = req.producer_epoch;
    }
    resp
}
