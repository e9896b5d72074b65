//! DescribeAcls (key 29), CreateAcls (key 30) and DeleteAcls (key 31), v1–v3 (Kafka 4 dropped
//! v0, KIP-896): as Kafka's AclApis, DESCRIBE on the cluster to describe, ALTER to create or
//! delete (else CLUSTER_AUTHORIZATION_FAILED), SECURITY_DISABLED without an authorizer.

use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::context::{RequestContext, str_bytes};
use crate::cluster::controller::ApiError;
use crate::security::acl::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType,
    ResourcePattern, ResourceType,
};

fn opt_string(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.as_str().to_string())
}

/// Why the ACL APIs cannot be served, if they cannot: CLUSTER_AUTHORIZATION_FAILED, then
/// SECURITY_DISABLED (Kafka checks in that order).
fn refusal(ctx: &RequestContext, op: AclOperation) -> Option<(E, &'static str)> {
    if !ctx.authorize_cluster(op) {
        Some((
            E::ClusterAuthorizationFailed,
            "Cluster authorization failed.",
        ))
    } else if !ctx.authorizer_enabled() {
        Some((E::SecurityDisabled, "No Authorizer is configured."))
    } else {
        None
    }
}

pub fn describe(ctx: &RequestContext, req: DescribeAclsRequest) -> DescribeAclsResponse {
    if let Some((code, msg)) = refusal(ctx, AclOperation::Describe) {
        let msg = if code == E::SecurityDisabled {
            "No Authorizer is configured on the broker"
        } else {
            msg
        };
        return DescribeAclsResponse::default()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(msg)));
    }
    let filter = AclBindingFilter {
        resource_type: ResourceType::from_code(req.resource_type_filter),
        name: opt_string(&req.resource_name_filter),
        pattern_type: PatternType::from_code(req.pattern_type_filter),
        principal: opt_string(&req.principal_filter),
        host: opt_string(&req.host_filter),
        operation: AclOperation::from_code(req.operation),
        permission: AclPermissionType::from_code(req.permission_type),
    };
    if let Some(why) = filter.unknown_field() {
        return DescribeAclsResponse::default()
            .with_error_code(E::InvalidRequest.code())
            .with_error_message(Some(str_bytes(why)));
    }
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    // Bindings come sorted by pattern: one resource entry per pattern.
    for b in ctx.broker.describe_acls(&filter) {
        let acl = AclDescription::default()
            .with_principal(str_bytes(b.entry.principal))
            .with_host(str_bytes(b.entry.host))
            .with_operation(b.entry.operation.code())
            .with_permission_type(b.entry.permission.code());
        let p = &b.pattern;
        match resources.last_mut() {
            Some(r)
                if r.resource_type == p.resource_type.code()
                    && r.pattern_type == p.pattern_type.code()
                    && r.resource_name.as_str() == p.name =>
            {
                r.acls.push(acl)
            }
            _ => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(p.resource_type.code())
                    .with_resource_name(str_bytes(p.name.clone()))
                    .with_pattern_type(p.pattern_type.code())
                    .with_acls(vec![acl]),
            ),
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}

pub async fn create(ctx: &RequestContext, req: CreateAclsRequest) -> CreateAclsResponse {
    if let Some((code, msg)) = refusal(ctx, AclOperation::Alter) {
        let results = req
            .creations
            .iter()
            .map(|_| {
                AclCreationResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(msg)))
            })
            .collect();
        return CreateAclsResponse::default().with_results(results);
    }
    let bindings: Vec<AclBinding> = req
        .creations
        .into_iter()
        .map(|c| AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::from_code(c.resource_type),
                name: c.resource_name.as_str().to_string(),
                pattern_type: PatternType::from_code(c.resource_pattern_type),
            },
            entry: AccessControlEntry {
                principal: c.principal.as_str().to_string(),
                host: c.host.as_str().to_string(),
                operation: AclOperation::from_code(c.operation),
                permission: AclPermissionType::from_code(c.permission_type),
            },
        })
        .collect();
    let results = ctx
        .broker
        .create_acls(bindings)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(()) => AclCreationResult::default(),
            Err(e) => AclCreationResult::default()
                .with_error_code(e.code)
                .with_error_message(Some(str_bytes(e.message))),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

pub async fn delete(ctx: &RequestContext, req: DeleteAclsRequest) -> DeleteAclsResponse {
    if let Some((code, msg)) = refusal(ctx, AclOperation::Alter) {
        let results = req
            .filters
            .iter()
            .map(|_| {
                DeleteAclsFilterResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(msg)))
            })
            .collect();
        return DeleteAclsResponse::default().with_filter_results(results);
    }
    let filters: Vec<AclBindingFilter> = req
        .filters
        .iter()
        .map(|f| AclBindingFilter {
            resource_type: ResourceType::from_code(f.resource_type_filter),
            name: opt_string(&f.resource_name_filter),
            pattern_type: PatternType::from_code(f.pattern_type_filter),
            principal: opt_string(&f.principal_filter),
            host: opt_string(&f.host_filter),
            operation: AclOperation::from_code(f.operation),
            permission: AclPermissionType::from_code(f.permission_type),
        })
        .collect();
    let results = ctx
        .broker
        .delete_acls(filters)
        .await
        .into_iter()
        .map(|r: Result<Vec<AclBinding>, ApiError>| match r {
            Ok(bindings) => DeleteAclsFilterResult::default().with_matching_acls(
                bindings
                    .into_iter()
                    .map(|b| {
                        DeleteAclsMatchingAcl::default()
                            .with_resource_type(b.pattern.resource_type.code())
                            .with_resource_name(str_bytes(b.pattern.name))
                            .with_pattern_type(b.pattern.pattern_type.code())
                            .with_principal(str_bytes(b.entry.principal))
                            .with_host(str_bytes(b.entry.host))
                            .with_operation(b.entry.operation.code())
                            .with_permission_type(b.entry.permission.code())
                    })
                    .collect(),
            ),
            Err(e) => DeleteAclsFilterResult::default()
                .with_error_code(e.code)
                .with_error_message(Some(str_bytes(e.message))),
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
