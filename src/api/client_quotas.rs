//! DescribeClientQuotas (key 48) and AlterClientQuotas (key 49), v0–v1:
//! quotas are stored and reported (kafka-configs.sh --entity-type clients /
//! users), not enforced.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};

use super::context::{RequestContext, str_bytes};
use crate::quotas::Entity;
use crate::security::acl::AclOperation;

const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_ANY: i8 = 2;

pub fn describe(
    ctx: &RequestContext,
    req: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    use kafka_protocol::messages::describe_client_quotas_response::{
        EntityData, EntryData, ValueData,
    };
    // DescribeConfigs on the cluster, as Kafka.
    if !ctx.authorize_cluster(AclOperation::DescribeConfigs) {
        return DescribeClientQuotasResponse::default()
            .with_error_code(E::ClusterAuthorizationFailed.code())
            .with_error_message(Some(str_bytes("Cluster authorization failed.")))
            .with_entries(None);
    }
    let matches = |entity: &Entity| -> bool {
        let all = req.components.iter().all(|c| {
            let t = c.entity_type.as_str();
            let found = entity.iter().find(|(et, _)| et == t);
            match (c.match_type, found) {
                (MATCH_EXACT, Some((_, n))) => {
                    n.as_deref() == c._match.as_ref().map(|m| m.as_str())
                }
                (MATCH_DEFAULT, Some((_, n))) => n.is_none(),
                (MATCH_ANY, Some(_)) => true,
                _ => false,
            }
        });
        let strict_ok = !req.strict || entity.len() == req.components.len();
        all && strict_ok
    };
    let entries = ctx
        .broker
        .quotas
        .all()
        .into_iter()
        .filter(|(e, _)| matches(e))
        .map(|(e, vals)| {
            EntryData::default()
                .with_entity(
                    e.into_iter()
                        .map(|(t, n)| {
                            EntityData::default()
                                .with_entity_type(str_bytes(t))
                                .with_entity_name(n.map(str_bytes))
                        })
                        .collect(),
                )
                .with_values(
                    vals.into_iter()
                        .map(|(k, v)| ValueData::default().with_key(str_bytes(k)).with_value(v))
                        .collect(),
                )
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

pub fn alter(ctx: &RequestContext, req: AlterClientQuotasRequest) -> AlterClientQuotasResponse {
    use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
    // AlterConfigs on the cluster, else every entry fails.
    let denied = !ctx.authorize_cluster(AclOperation::AlterConfigs);
    let entries = req
        .entries
        .iter()
        .map(|e| {
            let entity: Entity = e
                .entity
                .iter()
                .map(|d| {
                    (
                        d.entity_type.as_str().to_string(),
                        d.entity_name.as_ref().map(|n| n.as_str().to_string()),
                    )
                })
                .collect();
            let ops: Vec<(String, f64, bool)> = e
                .ops
                .iter()
                .map(|o| (o.key.as_str().to_string(), o.value, o.remove))
                .collect();
            let (code, msg) = if denied {
                (
                    E::ClusterAuthorizationFailed.code(),
                    Some(str_bytes("Cluster authorization failed.")),
                )
            } else {
                match ctx.broker.quotas.alter(entity, &ops, req.validate_only) {
                    Ok(()) => (0, None),
                    Err(m) => (E::InvalidRequest.code(), Some(str_bytes(m))),
                }
            };
            EntryData::default()
                .with_error_code(code)
                .with_error_message(msg)
                .with_entity(
                    e.entity
                        .iter()
                        .map(|d| {
                            EntityData::default()
                                .with_entity_type(d.entity_type.clone())
                                .with_entity_name(d.entity_name.clone())
                        })
                        .collect(),
                )
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}
