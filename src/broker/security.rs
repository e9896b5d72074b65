//! The broker's security metadata as handlers use it: the authorizer check, the SCRAM
//! credential of a login, and the ACL and credential admin operations.
//!
//! A single broker changes its own copy (see `security_store.rs`). In a cluster, CreateAcls,
//! DeleteAcls and AlterUserScramCredentials go to the active controller, which validates them
//! and writes `MetaRecord::Acls` / `MetaRecord::ScramCredentials`; every broker follows the
//! image (`follow_security`, from `follow.rs`), the asking broker as soon as the controller
//! answered.

use std::net::IpAddr;
use std::time::Duration;

use kafka_protocol::ResponseError as E;

use super::Broker;
use crate::cluster::controller::{ApiError, ControllerReply, ControllerRequest};
use crate::security::Principal;
use crate::security::acl::credentials::{AlterResult, Deletion, DescribeResult, Upsertion};
use crate::security::acl::{AclBinding, AclBindingFilter, AclOperation, ResourceType};
use crate::security::scram::{ScramCredential, ScramMechanism};

const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(15);

fn unexpected(reply: ControllerReply) -> ApiError {
    ApiError::new(
        E::UnknownServerError,
        format!("unexpected controller reply {reply:?}"),
    )
}

impl Broker {
    /// Whether `principal`, connected from `host`, may do `op` on a resource (always, when
    /// `authorizer.class.name` is empty). A read lock, no allocation.
    pub fn authorize(
        &self,
        principal: &Principal,
        host: IpAddr,
        op: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        self.security
            .authorizer
            .authorize(principal, host, op, resource_type, name)
    }

    /// The stored SCRAM credential of a user, for a SASL/SCRAM login.
    pub fn scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
    ) -> Option<ScramCredential> {
        self.security.credential(user, mechanism)
    }

    /// CreateAcls: one result per binding, in order.
    pub async fn create_acls(&self, bindings: Vec<AclBinding>) -> Vec<Result<(), ApiError>> {
        let Some(cluster) = &self.cluster else {
            return self.security.create_acls(bindings);
        };
        let n = bindings.len();
        let req = ControllerRequest::CreateAcls { bindings };
        let results = match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::Done(r)) if r.len() == n => r,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        };
        self.follow_security();
        results
    }

    /// DeleteAcls: the bindings each filter removed, in order.
    pub async fn delete_acls(
        &self,
        filters: Vec<AclBindingFilter>,
    ) -> Vec<Result<Vec<AclBinding>, ApiError>> {
        let Some(cluster) = &self.cluster else {
            return self.security.delete_acls(filters);
        };
        let n = filters.len();
        let req = ControllerRequest::DeleteAcls { filters };
        let results = match cluster.request(req, CONTROLLER_TIMEOUT).await {
            Ok(ControllerReply::AclsDeleted(r)) if r.len() == n => r,
            Ok(other) => vec![Err(unexpected(other)); n],
            Err(e) => vec![Err(e); n],
        };
        self.follow_security();
        results
    }

    /// DescribeAcls: the bindings a filter matches.
    pub fn describe_acls(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.security.authorizer.with_acls(|s| s.matching(filter))
    }

    /// AlterUserScramCredentials: one result per user named.
    pub async fn alter_scram_credentials(
        &self,
        deletions: Vec<Deletion>,
        upsertions: Vec<Upsertion>,
    ) -> Result<Vec<AlterResult>, ApiError> {
        let Some(cluster) = &self.cluster else {
            return self.security.alter_credentials(&deletions, &upsertions);
        };
        let req = ControllerRequest::AlterScramCredentials {
            deletions,
            upsertions,
        };
        let results = match cluster.request(req, CONTROLLER_TIMEOUT).await? {
            ControllerReply::ScramAltered(r) => r,
            other => return Err(unexpected(other)),
        };
        self.follow_security();
        Ok(results)
    }

    /// DescribeUserScramCredentials.
    pub fn describe_scram_credentials(&self, users: Option<&[String]>) -> Vec<DescribeResult> {
        self.security.describe_credentials(users)
    }

    /// A cluster node takes the image's ACLs and credentials when they changed.
    pub(super) fn follow_security(&self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let image = cluster.image();
        self.security.follow(&image.acls, &image.scram_credentials);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::path::Path;

    use super::*;
    use crate::clock::SystemClock;
    use crate::config::Config;
    use crate::security::acl::{
        AccessControlEntry, AclPermissionType, PatternType, ResourcePattern,
    };

    fn open(dir: &Path) -> Arc<Broker> {
        let ov = vec![
            format!("log.dirs={}", dir.display()),
            "listeners=PLAINTEXT://127.0.0.1:0".to_string(),
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                .to_string(),
        ];
        let (config, _) = Config::from_sources(None, Vec::new(), &ov).unwrap();
        Broker::open(config, Arc::new(SystemClock)).unwrap()
    }

    fn read_acl(topic: &str, pattern: PatternType) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::Topic,
                name: topic.into(),
                pattern_type: pattern,
            },
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission: AclPermissionType::Allow,
            },
        }
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn acls_and_credentials_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let alice = Principal::user("alice");
        {
            let b = open(dir.path());
            assert!(!b.authorize(&alice, LOCAL, AclOperation::Read, ResourceType::Topic, "t"));
            let mut bad = read_acl("t", PatternType::Literal);
            bad.entry.principal = "alice".into();
            let r = b
                .create_acls(vec![
                    read_acl("t", PatternType::Literal),
                    read_acl("p-", PatternType::Prefixed),
                    bad,
                ])
                .await;
            assert!(r[0].is_ok() && r[1].is_ok());
            assert_eq!(r[2].as_ref().unwrap_err().code, E::InvalidRequest.code());
            assert!(b.authorize(&alice, LOCAL, AclOperation::Read, ResourceType::Topic, "t"));
            let salted = ScramMechanism::Sha256.salted_password(b"pw", b"salt", 4096);
            let r = b
                .alter_scram_credentials(
                    vec![],
                    vec![Upsertion {
                        name: "alice".into(),
                        mechanism: 1,
                        iterations: 4096,
                        salt: b"salt".to_vec(),
                        salted_password: salted,
                    }],
                )
                .await
                .unwrap();
            assert_eq!(r[0].error_code, 0);
        }
        let b = open(dir.path());
        assert!(b.authorize(&alice, LOCAL, AclOperation::Read, ResourceType::Topic, "t"));
        assert!(b.authorize(
            &alice,
            LOCAL,
            AclOperation::Read,
            ResourceType::Topic,
            "p-x"
        ));
        let want = ScramCredential::from_password(ScramMechanism::Sha256, "pw", b"salt", 4096);
        assert_eq!(
            b.scram_credential("alice", ScramMechanism::Sha256),
            Some(want)
        );
        assert_eq!(b.scram_credential("alice", ScramMechanism::Sha512), None);
        // Deleting by filter, durably.
        let f = AclBindingFilter {
            pattern_type: PatternType::Prefixed,
            ..AclBindingFilter::any()
        };
        let r = b.delete_acls(vec![f]).await;
        assert_eq!(r[0].as_ref().unwrap().len(), 1);
        drop(b);
        let b = open(dir.path());
        assert!(!b.authorize(
            &alice,
            LOCAL,
            AclOperation::Read,
            ResourceType::Topic,
            "p-x"
        ));
        assert_eq!(b.describe_acls(&AclBindingFilter::any()).len(), 1);
    }
}
