//! Authorization as handlers ask for it, on the connection's principal and address (Kafka's
//! `AuthHelper`): one resource, the cluster, any resource of a type (KIP-679), and the
//! authorized-operations bit fields.

use std::collections::HashMap;
use std::net::IpAddr;

use super::context::RequestContext;
use crate::security::acl::{AclOperation, CLUSTER_NAME, ResourceType};

impl RequestContext {
    /// The client's address as ACL hosts name it (an IPv4 client of a dual-stack listener is
    /// its IPv4 address).
    pub fn client_host(&self) -> IpAddr {
        self.conn.peer.ip().to_canonical()
    }

    /// Whether the client may do `op` on a resource.
    pub fn authorize(&self, op: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        self.broker.authorize(
            &self.conn.principal,
            self.client_host(),
            op,
            resource_type,
            name,
        )
    }

    pub fn authorize_topic(&self, op: AclOperation, topic: &str) -> bool {
        self.authorize(op, ResourceType::Topic, topic)
    }

    /// `op` on each named topic, by name (a request's topics, checked once each).
    pub fn authorize_topics<'a>(
        &self,
        op: AclOperation,
        topics: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<&'a str, bool> {
        topics
            .into_iter()
            .map(|name| (name, self.authorize_topic(op, name)))
            .collect()
    }

    pub fn authorize_group(&self, op: AclOperation, group: &str) -> bool {
        self.authorize(op, ResourceType::Group, group)
    }

    pub fn authorize_transactional_id(&self, op: AclOperation, id: &str) -> bool {
        self.authorize(op, ResourceType::TransactionalId, id)
    }

    /// Whether the client may do `op` on the cluster.
    pub fn authorize_cluster(&self, op: AclOperation) -> bool {
        self.authorize(op, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// Whether the client may do `op` on some resource of a type (Kafka's
    /// `authorizeByResourceType`).
    pub fn authorize_any(&self, op: AclOperation, resource_type: ResourceType) -> bool {
        let authorizer = &self.broker.security.authorizer;
        !authorizer.enabled()
            || authorizer.authorize_by_resource_type(
                &self.conn.principal,
                self.client_host(),
                op,
                resource_type,
            )
    }

    /// The authorized-operations bit field of a resource.
    pub fn authorized_operations(&self, resource_type: ResourceType, name: &str) -> i32 {
        self.broker.security.authorizer.authorized_operations(
            &self.conn.principal,
            self.client_host(),
            resource_type,
            name,
        )
    }

    /// Whether an authorizer is configured (the ACL APIs answer SECURITY_DISABLED without).
    pub fn authorizer_enabled(&self) -> bool {
        self.broker.security.authorizer.enabled()
    }
}

impl RequestContext {
    /// The config resource check of DescribeConfigs (`op` DescribeConfigs) and the
    /// AlterConfigs APIs (AlterConfigs): on the topic, or on the cluster for a broker or broker
    /// logger resource; the error code and message if refused.
    pub fn authorize_config_resource(
        &self,
        op: AclOperation,
        resource_type: i8,
        name: &str,
    ) -> Result<(), (i16, String)> {
        use super::describe_configs::{
            RESOURCE_BROKER, RESOURCE_BROKER_LOGGER, RESOURCE_GROUP, RESOURCE_TOPIC,
        };
        use kafka_protocol::ResponseError as E;
        match resource_type {
            RESOURCE_TOPIC if !self.authorize_topic(op, name) => Err((
                E::TopicAuthorizationFailed.code(),
                format!("Authorization failed for topic {name}."),
            )),
            RESOURCE_GROUP if !self.authorize_group(op, name) => Err((
                E::GroupAuthorizationFailed.code(),
                "Group authorization failed.".to_string(),
            )),
            RESOURCE_BROKER | RESOURCE_BROKER_LOGGER if !self.authorize_cluster(op) => Err((
                E::ClusterAuthorizationFailed.code(),
                "Cluster authorization failed.".to_string(),
            )),
            _ => Ok(()),
        }
    }
}
