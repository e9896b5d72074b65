//! `/api/v1/acls`: list, create and delete ACLs through DescribeAcls, CreateAcls and DeleteAcls
//! (v3), so the caller needs what a Kafka client needs (DESCRIBE / ALTER on the cluster) and
//! gets Kafka's validation. Values are named as kafka-acls.sh and the Admin API name them
//! (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`), in any case, with or without underscores.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, ApiError, Caller, ctx, parse_body};
use crate::api::{self, str_bytes};
use crate::broker::Broker;
use crate::security::acl::{AclOperation, AclPermissionType, PatternType, ResourceType};

/// What the API says instead of Kafka's terse SECURITY_DISABLED message.
pub const NO_AUTHORIZER: &str = "No Authorizer is configured on the broker (authorizer.class.name is empty): there are no ACLs and every request is allowed";

/// A Kafka error of an ACL call; SECURITY_DISABLED says why in words.
fn acl_error(code: i16, message: Option<&StrBytes>) -> Result<(), ApiError> {
    if code == E::SecurityDisabled.code() {
        return Err(ApiError::kafka(code, Some(&str_bytes(NO_AUTHORIZER))));
    }
    super::check(code, message)
}

/// "A, B or C".
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The value `given` names among `values` (compared in upper case, underscores ignored, so
/// `DescribeConfigs` is `DESCRIBE_CONFIGS`); INVALID_REQUEST listing the names otherwise.
fn by_name<T: Copy>(
    field: &str,
    given: &str,
    values: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, ApiError> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let want = fold(given);
    values
        .iter()
        .copied()
        .find(|v| fold(name(*v)) == want)
        .ok_or_else(|| {
            let names: Vec<&str> = values.iter().map(|v| name(*v)).collect();
            ApiError::invalid(format!("{field}={given:?}: {}", or_list(&names)))
        })
}

/// Every value of a Kafka enum but UNKNOWN, in code order.
fn known<T: PartialEq + Copy>(from_code: fn(i8) -> T, unknown: T) -> Vec<T> {
    (1..=i8::MAX)
        .map(from_code)
        .take_while(|v| *v != unknown)
        .collect()
}

fn resource_type(given: Option<&str>, default: ResourceType) -> Result<ResourceType, ApiError> {
    match given {
        None => Ok(default),
        Some(g) => by_name(
            "resource_type",
            g,
            &known(ResourceType::from_code, ResourceType::Unknown),
            ResourceType::name,
        ),
    }
}

fn pattern_type(given: Option<&str>, default: PatternType) -> Result<PatternType, ApiError> {
    match given {
        None => Ok(default),
        Some(g) => by_name(
            "pattern_type",
            g,
            &known(PatternType::from_code, PatternType::Unknown),
            PatternType::name,
        ),
    }
}

fn operation(given: Option<&str>, default: AclOperation) -> Result<AclOperation, ApiError> {
    match given {
        None => Ok(default),
        Some(g) => by_name(
            "operation",
            g,
            &known(AclOperation::from_code, AclOperation::Unknown),
            AclOperation::name,
        ),
    }
}

fn permission(
    given: Option<&str>,
    default: AclPermissionType,
) -> Result<AclPermissionType, ApiError> {
    match given {
        None => Ok(default),
        Some(g) => by_name(
            "permission",
            g,
            &known(AclPermissionType::from_code, AclPermissionType::Unknown),
            AclPermissionType::name,
        ),
    }
}

/// One ACL as the API shows it.
#[allow(clippy::too_many_arguments)]
fn binding_json(
    resource_type: i8,
    resource_name: &str,
    pattern_type: i8,
    principal: &str,
    host: &str,
    operation: i8,
    permission: i8,
) -> Value {
    json!({
        "resource_type": ResourceType::from_code(resource_type).name(),
        "resource_name": resource_name,
        "pattern_type": PatternType::from_code(pattern_type).name(),
        "principal": principal,
        "host": host,
        "operation": AclOperation::from_code(operation).name(),
        "permission": AclPermissionType::from_code(permission).name(),
    })
}

/// A filter over ACLs, as kafka-acls.sh --list / --remove take it: an absent field matches
/// everything (resource and pattern type, operation and permission ANY).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct AclFilterQuery {
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    /// ANY (default), MATCH (the ACLs that apply to resource_name), LITERAL or PREFIXED.
    pub pattern_type: Option<String>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<String>,
    pub permission: Option<String>,
}

/// A filter's fields as DescribeAcls and DeleteAcls carry them.
#[derive(Debug, PartialEq)]
pub struct FilterFields {
    pub resource_type: i8,
    pub resource_name: Option<String>,
    pub pattern_type: i8,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: i8,
    pub permission: i8,
}

pub fn parse_filter(q: &AclFilterQuery) -> Result<FilterFields, ApiError> {
    Ok(FilterFields {
        resource_type: resource_type(q.resource_type.as_deref(), ResourceType::Any)?.code(),
        resource_name: q.resource_name.clone(),
        pattern_type: pattern_type(q.pattern_type.as_deref(), PatternType::Any)?.code(),
        principal: q.principal.clone(),
        host: q.host.clone(),
        operation: operation(q.operation.as_deref(), AclOperation::Any)?.code(),
        permission: permission(q.permission.as_deref(), AclPermissionType::Any)?.code(),
    })
}

fn query(
    q: Result<Query<AclFilterQuery>, QueryRejection>,
) -> Result<(AclFilterQuery, FilterFields), ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
    let f = parse_filter(&q)?;
    Ok((q, f))
}

pub async fn list_acls(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    q: Result<Query<AclFilterQuery>, QueryRejection>,
) -> Answer {
    let (_, f) = query(q)?;
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = f.resource_type;
    req.resource_name_filter = f.resource_name.map(str_bytes);
    req.pattern_type_filter = f.pattern_type;
    req.principal_filter = f.principal.map(str_bytes);
    req.host_filter = f.host.map(str_bytes);
    req.operation = f.operation;
    req.permission_type = f.permission;
    let r = call!(&b, &caller, 3, DescribeAcls, req)?;
    acl_error(r.error_code, r.error_message.as_ref())?;
    let acls: Vec<Value> = r
        .resources
        .iter()
        .flat_map(|res| {
            res.acls.iter().map(move |a| {
                binding_json(
                    res.resource_type,
                    res.resource_name.as_str(),
                    res.pattern_type,
                    a.principal.as_str(),
                    a.host.as_str(),
                    a.operation,
                    a.permission_type,
                )
            })
        })
        .collect();
    Ok(Json(json!({ "acls": acls })))
}

/// A new ACL: what kafka-acls.sh --add takes for one principal, operation and resource.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct NewAcl {
    pub resource_type: String,
    pub resource_name: String,
    /// LITERAL (default) or PREFIXED.
    pub pattern_type: Option<String>,
    pub principal: String,
    /// `*` (default): from any host.
    pub host: Option<String>,
    pub operation: String,
    /// ALLOW (default) or DENY.
    pub permission: Option<String>,
}

pub async fn create_acl(State(b): State<Arc<Broker>>, caller: Caller, body: Bytes) -> Answer {
    let n: NewAcl = parse_body(&body)?;
    let creation = AclCreation::default()
        .with_resource_type(resource_type(Some(&n.resource_type), ResourceType::Any)?.code())
        .with_resource_name(str_bytes(&n.resource_name))
        .with_resource_pattern_type(
            pattern_type(n.pattern_type.as_deref(), PatternType::Literal)?.code(),
        )
        .with_principal(str_bytes(&n.principal))
        .with_host(str_bytes(n.host.as_deref().unwrap_or("*")))
        .with_operation(operation(Some(&n.operation), AclOperation::Any)?.code())
        .with_permission_type(
            permission(n.permission.as_deref(), AclPermissionType::Allow)?.code(),
        );
    let created = binding_json(
        creation.resource_type,
        creation.resource_name.as_str(),
        creation.resource_pattern_type,
        creation.principal.as_str(),
        creation.host.as_str(),
        creation.operation,
        creation.permission_type,
    );
    let mut req = CreateAclsRequest::default();
    req.creations = vec![creation];
    let r = call!(&b, &caller, 3, CreateAcls, req)?;
    let res = r
        .results
        .first()
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    acl_error(res.error_code, res.error_message.as_ref())?;
    Ok(Json(json!({ "created": created })))
}

pub async fn delete_acls(
    State(b): State<Arc<Broker>>,
    caller: Caller,
    q: Result<Query<AclFilterQuery>, QueryRejection>,
) -> Answer {
    let (raw, f) = query(q)?;
    // An empty query would match, and delete, every ACL: that has to be asked for by name.
    let given = [
        &raw.resource_type,
        &raw.resource_name,
        &raw.pattern_type,
        &raw.principal,
        &raw.host,
        &raw.operation,
        &raw.permission,
    ];
    if given.iter().all(|g| g.is_none()) {
        return Err(ApiError::invalid(
            "name the ACLs to delete (resource_type, resource_name, pattern_type, principal, host, operation, permission); resource_type=ANY deletes every ACL",
        ));
    }
    let filter = DeleteAclsFilter::default()
        .with_resource_type_filter(f.resource_type)
        .with_resource_name_filter(f.resource_name.map(str_bytes))
        .with_pattern_type_filter(f.pattern_type)
        .with_principal_filter(f.principal.map(str_bytes))
        .with_host_filter(f.host.map(str_bytes))
        .with_operation(f.operation)
        .with_permission_type(f.permission);
    let mut req = DeleteAclsRequest::default();
    req.filters = vec![filter];
    let r = call!(&b, &caller, 3, DeleteAcls, req)?;
    let res = r
        .filter_results
        .first()
        .ok_or_else(|| ApiError::kafka(E::UnknownServerError.code(), None))?;
    acl_error(res.error_code, res.error_message.as_ref())?;
    let deleted: Vec<Value> = res
        .matching_acls
        .iter()
        .map(|m| {
            binding_json(
                m.resource_type,
                m.resource_name.as_str(),
                m.pattern_type,
                m.principal.as_str(),
                m.host.as_str(),
                m.operation,
                m.permission_type,
            )
        })
        .collect();
    Ok(Json(json!({ "deleted": deleted })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_kafka_tools_write_them() {
        assert_eq!(
            resource_type(Some("topic"), ResourceType::Any).unwrap(),
            ResourceType::Topic
        );
        assert_eq!(
            resource_type(Some("TransactionalId"), ResourceType::Any).unwrap(),
            ResourceType::TransactionalId
        );
        assert_eq!(
            operation(Some("DescribeConfigs"), AclOperation::Any).unwrap(),
            AclOperation::DescribeConfigs
        );
        assert_eq!(
            operation(Some("IDEMPOTENT_WRITE"), AclOperation::Any).unwrap(),
            AclOperation::IdempotentWrite
        );
        assert_eq!(
            permission(None, AclPermissionType::Allow).unwrap(),
            AclPermissionType::Allow
        );
        let e = resource_type(Some("TOPICS"), ResourceType::Any).unwrap_err();
        assert_eq!(e.error, "INVALID_REQUEST");
        assert_eq!(
            e.message,
            "resource_type=\"TOPICS\": ANY, TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN or USER"
        );
        assert!(resource_type(Some("unknown"), ResourceType::Any).is_err());
        let e = pattern_type(Some("glob"), PatternType::Any).unwrap_err();
        assert_eq!(
            e.message,
            "pattern_type=\"glob\": ANY, MATCH, LITERAL or PREFIXED"
        );
        assert_eq!(
            permission(Some("maybe"), AclPermissionType::Any)
                .unwrap_err()
                .message,
            "permission=\"maybe\": ANY, DENY or ALLOW"
        );
    }

    #[test]
    fn an_empty_filter_matches_everything() {
        let f = parse_filter(&AclFilterQuery::default()).unwrap();
        assert_eq!(
            f,
            FilterFields {
                resource_type: ResourceType::Any.code(),
                resource_name: None,
                pattern_type: PatternType::Any.code(),
                principal: None,
                host: None,
                operation: AclOperation::Any.code(),
                permission: AclPermissionType::Any.code(),
            }
        );
    }
}
