//! FindCoordinator (key 10), v0–v6: this broker coordinates every group and
//! transactional id. v4+ batches keys (`coordinator_keys`).

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::context::{RequestContext, str_bytes};

const GROUP: i8 = 0;
const TRANSACTION: i8 = 1;

pub fn handle(ctx: &RequestContext, req: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let b = &ctx.broker;
    let (host, port) = b
        .config
        .advertised_for(&ctx.conn.listener)
        .map(|l| (l.host.clone(), l.port as i32))
        .unwrap_or_default();
    let answer = |key: &StrBytes| -> (i16, Option<StrBytes>) {
        if req.key_type != GROUP && req.key_type != TRANSACTION {
            return (
                E::InvalidRequest.code(),
                Some(str_bytes(format!("unknown key type {}", req.key_type))),
            );
        }
        if key.is_empty() && req.key_type == GROUP {
            return (E::InvalidGroupId.code(), None);
        }
        (0, None)
    };
    if ctx.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|k| {
                let (code, msg) = answer(k);
                let c = Coordinator::default()
                    .with_key(k.clone())
                    .with_error_code(code)
                    .with_error_message(msg);
                if code == 0 {
                    c.with_node_id(BrokerId(b.node_id))
                        .with_host(str_bytes(host.clone()))
                        .with_port(port)
                } else {
                    c.with_node_id(BrokerId(-1)).with_port(-1)
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let (code, msg) = answer(&req.key);
    let resp = FindCoordinatorResponse::default()
        .with_error_code(code)
        .with_error_message(msg);
    if code == 0 {
        resp.with_node_id(BrokerId(b.node_id))
            .with_host(str_bytes(host))
            .with_port(port)
    } else {
        resp.with_node_id(BrokerId(-1)).with_port(-1)
    }
}
