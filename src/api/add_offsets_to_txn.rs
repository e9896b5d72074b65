//! AddOffsetsToTxn (key 25), v0–v4: the group's offsets join the transaction.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::context::RequestContext;
use crate::security::acl::AclOperation;
use crate::txn::coordinator::TxnProducer;

pub fn handle(ctx: &RequestContext, req: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let b = &ctx.broker;
    use kafka_protocol::ResponseError as E;
    if !ctx.authorize_transactional_id(AclOperation::Write, req.transactional_id.as_str()) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(E::TransactionalIdAuthorizationFailed.code());
    }
    if !ctx.authorize_group(AclOperation::Read, req.group_id.as_str()) {
        return AddOffsetsToTxnResponse::default()
            .with_error_code(E::GroupAuthorizationFailed.code());
    }
    if let Err(code) = b.check_txn_coordinator(req.transactional_id.as_str()) {
        return AddOffsetsToTxnResponse::default().with_error_code(code);
    }
    let code = b
        .txns
        .add_offsets(
            &b.txn_context(),
            TxnProducer {
                transactional_id: req.transactional_id.as_str(),
                producer_id: req.producer_id.0,
                producer_epoch: req.producer_epoch,
            },
            req.group_id.as_str(),
            b.now_ms(),
        )
        .err()
        .unwrap_or(0);
    AddOffsetsToTxnResponse::default().with_error_code(code)
}
